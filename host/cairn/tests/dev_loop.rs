//! The real `cairn` binary as a user runs it: `cairn dev` on a project of its own (a copy of
//! the `customers` example), the CLI clients against it, a hot swap after a source change, a
//! version that cannot read the stored events refused by its plan, a build error that leaves
//! the old version serving, modules added to and taken out of
//! cairn.toml while it runs, and a graceful stop. Also: `cairn serve`
//! refuses a public address without an API key.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Output, cairn, client, copy_example, repository};

/// A project of its own: copies of the customers aggregate and the customer_directory
/// projection, a consumer group and a webhook sink (to a port nobody listens on). Returns the
/// aggregate's directory.
fn customers_project(dir: &Path) -> PathBuf {
    let module = copy_example(dir, "customers");
    copy_example(dir, "customer_directory");
    std::fs::write(
        dir.join("cairn.toml"),
        "[[module]]\nname = \"customers\"\npath = \"customers\"\n\n\
         [[module]]\nname = \"customer_directory\"\npath = \"customer_directory\"\n\n\
         [[groups]]\nname = \"audit\"\nfilter = { categories = [\"customers\"] }\n\n\
         [[sinks]]\nname = \"crm-hook\"\nwebhook = { url = \"http://127.0.0.1:9/events\" }\n",
    )
    .expect("write cairn.toml");
    module
}

/// Waits until `cairn projections status NAME --json` satisfies `check`.
fn wait_for_projection(server: &str, name: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out, err) = client(server, &["projections", "status", name, "--json"]);
        if ok {
            let status: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
            if check(&status) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name} never got there: {out} {err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `cairn dev` on `project`, building into `target_dir`, with `extra` arguments.
fn start_dev(project: &Path, target_dir: &Path, extra: &[&str]) -> (Child, Output) {
    let mut dev = cairn()
        .arg("dev")
        .args(extra)
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(project.join("cairn.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn dev starts");
    let output = Output::of(&mut dev);
    (dev, output)
}

#[test]
fn cairn_dev_serves_the_cli_hot_swaps_and_stops_gracefully() {
    let project = tempfile::tempdir().expect("temp dir");
    let module = customers_project(project.path());
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dev-loop-guests");
    let (mut dev, mut output) = start_dev(project.path(), &target_dir, &[]);
    output.wait_for("customers v1 loaded", Duration::from_secs(900));
    output.wait_for("customer_directory v1 loaded", Duration::from_secs(900));
    let api = output.wait_for("API", Duration::from_secs(60));
    let server = api.split_whitespace().last().expect("a URL").to_owned();
    output.wait_for("watching", Duration::from_secs(10));

    // What it printed: each build announced, each load once, no colours in a pipe.
    let printed = output.seen().join("\n");
    assert!(printed.contains("building customers…"), "{printed}");
    assert_eq!(
        printed.matches("customers v1 loaded").count(),
        1,
        "{printed}"
    );
    assert!(
        !printed.contains("module loaded"),
        "a load said twice: {printed}"
    );
    assert!(!printed.contains('\u{1b}'), "colours in a pipe: {printed}");
    // The banner names the sinks and groups cairn.toml declares (the sink's own group too).
    assert!(
        printed.contains("sink      crm-hook (webhook) POST http://127.0.0.1:9/events: "),
        "{printed}"
    );
    assert!(printed.contains("group     audit"), "{printed}");
    assert!(printed.contains("group     sink.crm-hook"), "{printed}");

    // The CLI against it.
    let create = r#"{"type": "Create", "data": {"name": "Ada", "email": "ada@example.com"}}"#;
    let (ok, out, err) = client(&server, &["send", "customers", "c1", create]);
    assert!(ok, "{err}");
    assert!(out.contains("customers-c1 is at version 1"), "{out}");
    assert!(out.contains("CustomerRegistered"), "{out}");
    let (ok, out, err) = client(&server, &["state", "customers", "c1", "--json"]);
    assert!(ok, "{err}");
    let state: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(state["state"]["name"], "Ada");
    // Global options go before the command too, and a URL needs no scheme.
    let bare = server.trim_start_matches("http://");
    let before = cairn()
        .args(["--server", bare, "--json", "state", "customers", "c1"])
        .output()
        .expect("cairn runs");
    assert!(before.status.success(), "{before:?}");
    let state: serde_json::Value =
        serde_json::from_slice(&before.stdout).expect("JSON with the global --json");
    assert_eq!(state["state"]["name"], "Ada");
    // An aggregate with no events says so plainly.
    let (ok, out, err) = client(&server, &["state", "customers", "nobody"]);
    assert!(
        ok && out.contains("has no events yet (version 0)"),
        "{out}{err}"
    );
    let (ok, out, _) = client(&server, &["read", "customers-c1"]);
    assert!(
        ok && out.contains("customers-c1@1 CustomerRegistered"),
        "{out}"
    );
    let (ok, out, err) = client(&server, &["tail", "--after", "0", "--count", "1", "--json"]);
    assert!(ok, "{err}");
    let tailed: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(tailed["type"], "CustomerRegistered");
    let (ok, _, err) = client(&server, &["send", "customers", "c1", create]);
    assert!(
        !ok && err.contains("already exists") && err.contains("rejected"),
        "{err}"
    );

    // The projection follows, and the CLI asks it.
    wait_for_projection(&server, "customer_directory", |s| {
        s["position"] == 1 && s["state"] == "live"
    });
    let (ok, out, err) = client(
        &server,
        &["query", "customer_directory", r#"{"type": "count"}"#],
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"active\": 1"), "{out}");
    let (ok, out, err) = client(&server, &["projections", "pause", "customer_directory"]);
    assert!(
        ok && out.contains("customer_directory paused"),
        "{out}{err}"
    );
    let (ok, out, err) = client(&server, &["projections", "resume", "customer_directory"]);
    assert!(
        ok && out.contains("customer_directory resumed"),
        "{out}{err}"
    );
    wait_for_projection(&server, "customer_directory", |s| s["state"] == "live");
    let (ok, out, err) = client(&server, &["projections", "list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("customer_directory v1 live at 1 of 1"),
        "{out}"
    );
    let (ok, _, err) = client(&server, &["query", "nobody", r#"{"type": "count"}"#]);
    assert!(
        !ok && err.contains("unknown_projection") && err.contains("cairn projections list"),
        "{err}"
    );
    let (ok, _, err) = client(&server, &["send", "customers", "c1", "{not json"]);
    assert!(!ok && err.contains("not JSON"), "{err}");
    let (ok, _, err) = client(&server, &["send", "ledger", "c1", create]);
    assert!(
        !ok && err.contains("unknown_module") && err.contains("hint"),
        "{err}"
    );
    let (ok, _, err) = client("http://127.0.0.1:9", &["state", "customers", "c1"]);
    assert!(!ok && err.contains("cannot reach"), "{err}");

    // A source change is rebuilt and swapped in; the events stay.
    let source = module.join("src/lib.rs");
    let original = std::fs::read_to_string(&source).expect("source");
    let changed = original.replace(
        "the customer already exists; a customer is created once",
        "customer exists (rule v2)",
    );
    assert_ne!(
        changed, original,
        "the example's message is where the test expects it"
    );
    std::fs::write(&source, &changed).expect("edit");
    output.wait_for("customers v2 loaded", Duration::from_secs(600));
    let (ok, _, err) = client(&server, &["send", "customers", "c1", create]);
    assert!(
        !ok && err.contains("customer exists (rule v2)"),
        "the new behaviour: {err}"
    );
    let (_, out, _) = client(&server, &["read", "customers-c1", "--json"]);
    let read: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(read["version"], 1, "the events are kept: {read}");

    // A version that cannot read the stored events is not swapped in, and says how to evolve
    // them; the source as it was is v2 again.
    let event = "    CustomerRegistered { name: String, email: String },";
    let renamed = changed.replace(
        event,
        &format!("    #[serde(rename = \"CustomerSignedUp\")]\n{event}"),
    );
    assert_ne!(renamed, changed, "the event is where the test expects it");
    std::fs::write(&source, &renamed).expect("rename the event");
    let refused = output.wait_for(
        "cannot read events already stored",
        Duration::from_secs(600),
    );
    assert!(refused.contains("version 2 keeps serving"), "{refused}");
    output.wait_for(
        "first: customers-c1 at version 1 (CustomerRegistered)",
        Duration::from_secs(10),
    );
    output.wait_for("or add an upcaster", Duration::from_secs(10));
    let (ok, _, err) = client(&server, &["send", "customers", "c1", create]);
    assert!(!ok && err.contains("rule v2"), "v2 still serves: {err}");
    std::fs::write(&source, &changed).expect("restore");
    output.wait_for("customers v2 is unchanged", Duration::from_secs(600));

    // A build error is shown, and the loaded version keeps serving.
    std::fs::write(&source, format!("{changed}\nfn broken( {{")).expect("break");
    let failed = output.wait_for("did not build", Duration::from_secs(600));
    assert!(failed.contains("version 2 keeps serving"), "{failed}");
    let (ok, _, err) = client(&server, &["send", "customers", "c1", create]);
    assert!(!ok && err.contains("rule v2"), "v2 still serves: {err}");

    // `cairn deploy` uploads a component under a new name.
    let wasm = target_dir.join("wasm32-wasip2/release/customers.wasm");
    let (ok, out, err) = client(
        &server,
        &["deploy", wasm.to_str().expect("utf-8"), "--name", "people"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("people aggregate version 1"), "{out}");

    // `cairn deploy cairn.toml` builds the project's modules and uploads them.
    std::fs::write(&source, &changed).expect("repair");
    let (ok, out, err) = client(
        &server,
        &[
            "deploy",
            project.path().join("cairn.toml").to_str().expect("utf-8"),
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("customers aggregate version"), "{out}");
    let (ok, _, err) = client(&server, &["send", "customers", "c1", create]);
    assert!(
        !ok && err.contains("rule v2"),
        "the deployed build has the v2 source: {err}"
    );

    // So does a projection's.
    let directory_source = project.path().join("customer_directory/src/lib.rs");
    let directory = std::fs::read_to_string(&directory_source).expect("source");
    std::fs::write(&directory_source, format!("{directory}\nfn broken( {{")).expect("break");
    let failed = output.wait_for("customer_directory did not build", Duration::from_secs(600));
    assert!(failed.contains("version 1 keeps serving"), "{failed}");
    std::fs::write(&directory_source, &directory).expect("repair");
    output.wait_for(
        "customer_directory v1 is unchanged",
        Duration::from_secs(600),
    );

    // cairn.toml is watched too. A file that cannot be used changes nothing; a module added
    // to it is built, loaded and watched; one taken out stays loaded; a settings change is said
    // to wait for a restart.
    let toml = project.path().join("cairn.toml");
    let listed = std::fs::read_to_string(&toml).expect("cairn.toml");
    std::fs::write(
        &toml,
        format!("{listed}\n[[module]]\nname = \"ledger\"\npath = \"nowhere\"\n"),
    )
    .expect("write cairn.toml");
    let refused = output.wait_for("cannot be used", Duration::from_secs(60));
    assert!(refused.contains("keep serving"), "{refused}");
    let ledger = copy_example(project.path(), "bank_account");
    std::fs::write(
        &toml,
        "[[module]]\nname = \"customers\"\npath = \"customers\"\n\n\
         [[module]]\nname = \"ledger\"\npath = \"bank_account\"\n\n\
         [commands]\nsnapshot_every = 5\n",
    )
    .expect("write cairn.toml");
    output.wait_for(
        "customer_directory is no longer in",
        Duration::from_secs(60),
    );
    output.wait_for("settings in", Duration::from_secs(60));
    output.wait_for("ledger is new in", Duration::from_secs(60));
    output.wait_for("ledger v1 loaded", Duration::from_secs(600));
    let open = r#"{"type": "Open", "data": {"owner": "Bo"}}"#;
    let (ok, out, err) = client(&server, &["send", "ledger", "x1", open]);
    assert!(
        ok && out.contains("ledger-x1 is at version 1"),
        "{out}{err}"
    );
    let (ok, _, err) = client(
        &server,
        &["query", "customer_directory", r#"{"type": "count"}"#],
    );
    assert!(ok, "the module taken out still serves: {err}");
    let source = ledger.join("src/lib.rs");
    let original = std::fs::read_to_string(&source).expect("source");
    let changed = original.replace("insufficient funds", "not enough money (rule v2)");
    assert_ne!(
        changed, original,
        "the message is where the test expects it"
    );
    std::fs::write(&source, &changed).expect("edit");
    output.wait_for("ledger v2 loaded", Duration::from_secs(600));
    let withdraw = r#"{"type": "Withdraw", "data": {"amount": 5}}"#;
    let (ok, _, err) = client(&server, &["send", "ledger", "x1", withdraw]);
    assert!(
        !ok && err.contains("not enough money (rule v2)"),
        "the added module's sources are watched: {err}"
    );

    // A command from a file, for one too large for an argument.
    let file = project.path().join("command.json");
    std::fs::write(
        &file,
        r#"{"type": "Create", "data": {"name": "Big", "email": "big@example.com"}}"#,
    )
    .expect("writes");
    let at_file = format!("@{}", file.display());
    let (ok, out, err) = client(&server, &["send", "customers", "c9", &at_file]);
    assert!(
        ok && out.contains("customers-c9 is at version 1"),
        "{out}{err}"
    );
    // And from standard input.
    let mut piped = cairn()
        .args(["send", "customers", "c10", "-", "--server", &server])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn runs");
    {
        use std::io::Write;
        let mut stdin = piped.stdin.take().expect("stdin");
        stdin
            .write_all(br#"{"type": "Create", "data": {"name": "Pipe", "email": "p@example.com"}}"#)
            .expect("writes");
    }
    let sent = piped.wait_with_output().expect("exits");
    assert!(
        String::from_utf8_lossy(&sent.stdout).contains("customers-c10 is at version 1"),
        "{sent:?}"
    );

    // A module is removed with `cairn undeploy`, and says what went with it.
    let (ok, out, err) = client(&server, &["undeploy", "ledger"]);
    assert!(
        ok && out.contains("ledger") && out.contains("removed"),
        "{out}{err}"
    );
    let (ok, _, err) = client(&server, &["send", "ledger", "x1", withdraw]);
    assert!(!ok && err.contains("unknown_module"), "{err}");

    // SIGTERM stops it gracefully.
    let status = Command::new("kill")
        .args(["-TERM", &dev.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    output.wait_for("cairn dev stopped", Duration::from_secs(30));
    assert!(dev.wait().expect("exits").success());

    // `--clean` starts again from an empty store.
    let (mut dev, mut output) = start_dev(project.path(), &target_dir, &["--clean"]);
    output.wait_for("deleted the dev store", Duration::from_secs(30));
    output.wait_for("customers v1 loaded", Duration::from_secs(600));
    let api = output.wait_for("API", Duration::from_secs(60));
    let server = api.split_whitespace().last().expect("a URL").to_owned();
    let (_, out, _) = client(&server, &["read", "customers-c1", "--json"]);
    let read: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(read["version"], 0, "the store was wiped: {read}");
    Command::new("kill")
        .args(["-TERM", &dev.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(dev.wait().expect("exits").success());
}

#[test]
fn serve_with_a_key_answers_only_with_it_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut serve = cairn()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "k3y",
            "--data",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn serve starts");
    let mut output = Output::of(&mut serve);
    let line = output.wait_for("cairn is serving", Duration::from_secs(60));
    let server = line.split_whitespace().last().expect("a URL").to_owned();
    let (ok, _, err) = client(&server, &["read", "orders-1"]);
    assert!(
        !ok && err.contains("unauthorized") && err.contains("--api-key"),
        "{err}"
    );
    let (ok, out, err) = client(&server, &["read", "orders-1", "--api-key", "k3y"]);
    assert!(ok, "{err}");
    assert!(out.contains("orders-1 is at version 0"), "{out}");
    let (ok, _, err) = client(
        &server,
        &[
            "send",
            "customers",
            "c1",
            r#"{"type": "Delete"}"#,
            "--api-key",
            "k3y",
        ],
    );
    assert!(
        !ok && err.contains("unknown_module") && err.contains("cairn deploy"),
        "{err}"
    );
    Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .expect("kill runs");
    output.wait_for("cairn stopped", Duration::from_secs(30));
    assert!(serve.wait().expect("exits").success());
    assert!(dir.path().join("store/cairn.redb").is_file());
}

#[test]
fn serve_refuses_a_public_address_without_a_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = cairn()
        .args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(dir.path())
        .env_remove("CAIRN_API_KEY")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--api-key") && stderr.contains("--insecure"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "nothing was created"
    );
}

#[test]
fn serve_keeps_serving_when_its_output_is_closed() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().expect("temp dir");
    let mut serve = cairn()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn serve starts");
    let mut lines = BufReader::new(serve.stdout.take().expect("stdout")).lines();
    let server = loop {
        let line = lines.next().expect("a line").expect("text");
        if line.contains("cairn is serving") {
            break line.split_whitespace().last().expect("a URL").to_owned();
        }
    };
    // Whoever read the output goes away: both pipes close.
    drop(lines);
    drop(serve.stderr.take());
    for n in 0..20 {
        let (ok, _, err) = client(
            &server,
            &[
                "send",
                "customers",
                &format!("c{n}"),
                r#"{"type": "Delete"}"#,
            ],
        );
        assert!(!ok && err.contains("unknown_module"), "{err}");
        let (ok, out, err) = client(&server, &["read", "orders-1"]);
        assert!(ok, "the server still answers: {err}");
        assert!(out.contains("orders-1 is at version 0"), "{out}");
    }
    Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(serve.wait().expect("exits").success());
}

#[test]
fn cairn_dev_says_a_projections_fault_as_a_sentence() {
    let project = tempfile::tempdir().expect("temp dir");
    let picky = repository().join("tests/guests/picky-projection");
    std::fs::write(
        project.path().join("cairn.toml"),
        format!(
            "[[module]]\nname = \"picky\"\npath = {:?}\n",
            picky.display().to_string()
        ),
    )
    .expect("write cairn.toml");
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dev-loop-picky");
    let (mut dev, mut output) = start_dev(project.path(), &target_dir, &[]);
    output.wait_for("picky v1 loaded", Duration::from_secs(900));
    let api = output.wait_for("API", Duration::from_secs(60));
    let server = api.split_whitespace().last().expect("a URL").to_owned();
    output.wait_for("watching", Duration::from_secs(10));

    // An event the projection fails on, appended over HTTP.
    let address = server.trim_start_matches("http://");
    let body = r#"{"expected_version": "any", "events": [{"type": "Fine", "data": {}}, {"type": "Poison", "data": {}}]}"#;
    let mut socket = std::net::TcpStream::connect(address).expect("connects");
    {
        use std::io::{Read, Write};
        write!(
            socket,
            "POST /v1/streams/things-1 HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("sends");
        let mut reply = String::new();
        socket.read_to_string(&mut reply).expect("reads");
        assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    }
    let fault = output.wait_for("faulted at position", Duration::from_secs(120));
    assert!(
        fault.contains("✗ projection picky v1 faulted at position 2 (Poison)"),
        "{fault}"
    );
    let how = output.wait_for("fix the module", Duration::from_secs(10));
    assert!(how.contains("rebuilds it from the start"), "{how}");
    Command::new("kill")
        .args(["-TERM", &dev.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(dev.wait().expect("exits").success());
}
