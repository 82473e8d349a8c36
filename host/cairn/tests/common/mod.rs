//! What the binary tests share: running `cairn`, its CLI clients, and reading what a child
//! process prints.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn cairn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
}

/// Runs a client command against `server`; returns (success, stdout, stderr).
pub fn client(server: &str, args: &[&str]) -> (bool, String, String) {
    let output = cairn()
        .args(args)
        .args(["--server", server])
        .output()
        .expect("cairn runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The lines a child prints on stdout and stderr, as they come.
pub struct Output {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Output {
    pub fn of(child: &mut Child) -> Self {
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                // Read to the end even when nobody listens any more: a child whose output
                // pipe is closed fails its next write.
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
        }
        Self {
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; returns it.
    pub fn wait_for(&mut self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?} within {limit:?}; printed so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The lines read so far by [`Output::wait_for`].
    pub fn seen(&self) -> &[String] {
        &self.seen
    }
}

/// Starts `cairn serve` on 127.0.0.1:0 with data in `data`; returns the child and its URL.
pub fn serve(data: &Path) -> (Child, String) {
    serve_with(data, &[])
}

/// [`serve`], with `extra` arguments (such as `--store URL`).
pub fn serve_with(data: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = cairn()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn serve starts");
    let mut output = Output::of(&mut child);
    let line = output.wait_for("cairn is serving", Duration::from_secs(120));
    let url = line.split_whitespace().last().expect("a URL").to_owned();
    (child, url)
}

/// Sends `signal` (such as `-KILL` or `-TERM`) to `child`.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} failed");
}

/// Kills `child` with SIGKILL and reaps it.
pub fn kill(mut child: Child) {
    signal(&child, "-KILL");
    child.wait().expect("the killed process is reaped");
}

/// A child that is killed when dropped, so a test that panics leaves no server behind (one
/// would hold the test's ports, files and inherited descriptors after the test ended).
pub struct KillOnDrop(Option<Child>);

impl KillOnDrop {
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// The child, to kill or wait for by hand.
    pub fn take(&mut self) -> Child {
        self.0.take().expect("the child is still here")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Appends `events` `Counted` events (each with its `cycle` and index in its stream's batch)
/// over `streams` streams `acct-0`, `acct-1`, ..., one append a stream, over HTTP.
pub async fn append_counted(
    http: &reqwest::Client,
    url: &str,
    cycle: usize,
    events: usize,
    streams: usize,
) {
    let per_stream = events / streams;
    for stream in 0..streams {
        let batch: Vec<serde_json::Value> = (0..per_stream)
            .map(|n| serde_json::json!({"type": "Counted", "data": {"cycle": cycle, "n": n}}))
            .collect();
        let reply = http
            .post(format!("{url}/v1/streams/acct-{stream}"))
            .json(&serde_json::json!({"expected_version": "any", "events": batch}))
            .send()
            .await
            .expect("the append is answered");
        assert_eq!(reply.status(), 201);
    }
}

/// Builds the module crate `package` (an example or a test guest) and uploads it to the
/// server at `url` as module `name`, which must be new there (201).
pub async fn upload(http: &reqwest::Client, url: &str, name: &str, package: &str) {
    let bytes = cairn_server::guests::build(package).expect("the module builds");
    let reply = http
        .put(format!("{url}/v1/modules/{name}"))
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .expect("sent");
    let status = reply.status();
    assert_eq!(
        status,
        201,
        "uploading {name}: {}",
        reply.text().await.unwrap_or_default()
    );
}

/// GETs `url` and reads its JSON body.
pub async fn get_json(http: &reqwest::Client, url: String) -> serde_json::Value {
    http.get(url)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON")
}

/// Every event of the server at `url` up to `head`, raw (as `GET /v1/all?raw=true` gives
/// each: position, id, stream, version, type, data, metadata, time), in position order.
pub async fn log(http: &reqwest::Client, url: &str, head: u64) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    let mut after = 0;
    while after < head {
        let page = get_json(
            http,
            format!("{url}/v1/all?after={after}&limit=1000&raw=true"),
        )
        .await;
        for e in page["events"].as_array().expect("events") {
            if e["position"].as_u64().expect("a position") <= head {
                events.push(e.clone());
            }
        }
        after = page["scanned_to"].as_u64().expect("scanned_to");
    }
    events
}

/// A standalone copy of example `name`, depending on this repository's SDK.
pub fn copy_example(dir: &Path, name: &str) -> PathBuf {
    let module = dir.join(name);
    std::fs::create_dir_all(module.join("src")).expect("mkdir");
    let sdk = repository()
        .join("guest-sdk")
        .canonicalize()
        .expect("sdk path");
    std::fs::write(
        module.join("Cargo.toml"),
        format!(
            "[package]\nname = {name:?}\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n\
             [dependencies]\ncairn-sdk = {{ path = {sdk:?} }}\n\
             serde = {{ version = \"1\", features = [\"derive\"] }}\n\n[workspace]\n"
        ),
    )
    .expect("write manifest");
    std::fs::copy(repository().join("Cargo.lock"), module.join("Cargo.lock")).expect("lock");
    // The examples' directories are named in kebab case, their packages in snake case.
    std::fs::copy(
        repository()
            .join("examples")
            .join(name.replace('_', "-"))
            .join("src/lib.rs"),
        module.join("src/lib.rs"),
    )
    .expect("copy source");
    module
}

/// A standalone copy of the TypeScript example in `examples/{example}` as module directory
/// `name`, depending on this repository's TypeScript SDK.
pub fn copy_typescript_example(dir: &Path, example: &str, name: &str) -> PathBuf {
    let from = repository().join("examples").join(example);
    let module = dir.join(name);
    std::fs::create_dir_all(module.join("src")).expect("mkdir");
    let sdk = repository()
        .join("guest-sdk-ts")
        .canonicalize()
        .expect("sdk path");
    let manifest = serde_json::json!({
        "name": name,
        "private": true,
        "type": "module",
        "cairn": {"entry": "src/index.ts"},
        "devDependencies": {"@cairn/sdk": format!("file:{}", sdk.display())},
    });
    std::fs::write(module.join("package.json"), manifest.to_string()).expect("write manifest");
    std::fs::copy(from.join("src/index.ts"), module.join("src/index.ts")).expect("copy source");
    module
}

/// Sends `command` to the `bank_account` aggregate `account` of the server at `url`, with `key`
/// as its idempotency key if given: the reply's status and JSON body.
pub async fn bank_command(
    http: &reqwest::Client,
    url: &str,
    account: &str,
    command: serde_json::Value,
    key: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = http
        .post(format!(
            "{url}/v1/aggregates/bank_account/{account}/commands"
        ))
        .json(&command);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let reply = request.send().await.expect("the command is answered");
    (reply.status().as_u16(), reply.json().await.expect("JSON"))
}

/// The head of the log of the server at `url`, from `/healthz`.
pub async fn head(http: &reqwest::Client, url: &str) -> u64 {
    get_json(http, format!("{url}/healthz")).await["head"]
        .as_u64()
        .expect("a head")
}
