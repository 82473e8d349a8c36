//! The Kafka sink against a real broker that speaks the Kafka protocol: tansu (a broker on
//! crates.io, `cargo install tansu --locked --features dynostore`, which `.ci/run` installs),
//! run on 127.0.0.1 with its memory storage. What arrives is read back with kafka-python
//! (Debian's `python3-kafka`), a client written apart from the librdkafka that produces.
//!
//! - `cairn serve` is killed with SIGKILL 10 times while it relays 50,000 events: the topic
//!   holds every event, each key's events in log order once duplicates are dropped by event
//!   id, and the duplicates (from deliveries in flight at a kill) are counted and printed.
//! - The broker is stopped (SIGSTOP) for 30 seconds: the sink says it is waiting, loses
//!   nothing, and catches up once it is back (SIGCONT).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{KillOnDrop, client, kill, serve, signal};
use serde_json::{Value, json};

const KILLS: usize = 10;
const EVENTS_PER_CYCLE: usize = 5_000;
const STREAMS: usize = 100;

/// The tansu binary: `CAIRN_TANSU`, or `tansu` on the PATH.
fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("CAIRN_TANSU") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tansu"))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "these tests need the tansu broker: `cargo install tansu --locked --features dynostore` \
             (`.ci/run` installs it), or CAIRN_TANSU=/path/to/tansu"
        )
    })
}

/// A tansu broker on 127.0.0.1, killed when dropped.
struct Broker {
    child: Child,
    address: String,
}

impl Broker {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&address).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {address}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, address }
    }

    fn create_topic(&self, topic: &str, partitions: u32) {
        let status = Command::new(tansu())
            .args([
                "topic",
                "create",
                topic,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://{}", self.address)])
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic runs");
        assert!(status.success(), "the topic {topic} is made");
    }

    /// Every message of `topic`, read by kafka-python.
    fn read(&self, topic: &str) -> Vec<Value> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/kafka/read_topic.py");
        // Debian's python, where `python3-kafka` installs (a `python3` earlier on the PATH,
        // such as pyenv's, may not have it).
        let python = ["/usr/bin/python3", "python3"]
            .into_iter()
            .find(|p| !p.starts_with('/') || std::path::Path::new(p).exists())
            .expect("a python3");
        let output = Command::new(python)
            .arg(script)
            .args([&self.address, topic, "5000"])
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "kafka-python read the topic (Debian's python3-kafka): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn append_cycle(http: &reqwest::Client, url: &str, cycle: usize) {
    common::append_counted(http, url, cycle, EVENTS_PER_CYCLE, STREAMS).await;
}

async fn sink_status(http: &reqwest::Client, url: &str) -> Value {
    http.get(format!("{url}/v1/sinks/relay"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON")
}

async fn wait_for(
    http: &reqwest::Client,
    url: &str,
    what: &str,
    within: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let status = sink_status(http, url).await;
        if check(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "not {what} within {within:?}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks the topic against the log's `total` events: every event there, each key's events
/// in log order once repeated ids are dropped, and the headers. Returns the duplicates.
fn check_topic(messages: &[Value], total: usize) -> usize {
    let mut seen = HashSet::new();
    let mut by_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut partition_of: BTreeMap<String, u64> = BTreeMap::new();
    let mut ordered: Vec<&Value> = messages.iter().collect();
    ordered.sort_by_key(|m| (m["partition"].as_u64(), m["offset"].as_u64()));
    for message in ordered {
        let headers = &message["headers"];
        let id = headers["cairn-event-id"]
            .as_str()
            .expect("an event id header");
        let key = message["key"].as_str().expect("a key").to_owned();
        assert_eq!(headers["cairn-stream"], key, "the key is the stream");
        assert_eq!(headers["cairn-event-type"], "Counted");
        let partition = message["partition"].as_u64().expect("a number");
        assert_eq!(
            *partition_of.entry(key.clone()).or_insert(partition),
            partition,
            "a key stays in one partition"
        );
        let event: Value =
            serde_json::from_str(message["value"].as_str().expect("JSON")).expect("JSON");
        assert_eq!(event["id"], id);
        let position: u64 = headers["cairn-position"]
            .as_str()
            .expect("a header")
            .parse()
            .expect("a header");
        assert_eq!(event["position"], position);
        if seen.insert(id.to_owned()) {
            by_key.entry(key).or_default().push(position);
        }
    }
    assert_eq!(seen.len(), total, "every event is in the topic");
    for (key, positions) in &by_key {
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{key} is out of order: {positions:?}"
        );
    }
    messages.len() - seen.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_reaches_the_topic_in_key_order_across_kills() {
    let broker = Broker::start();
    broker.create_topic("events", 3);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (running, mut url) = serve(&data);
    let mut running = KillOnDrop::new(running);
    let (ok, out, err) = client(
        &url,
        &[
            "sinks",
            "create",
            "relay",
            "--kafka",
            &broker.address,
            "--topic",
            "events",
            "--category",
            "acct",
        ],
    );
    assert!(ok, "{out}{err}");
    for cycle in 0..KILLS {
        append_cycle(&http, &url, cycle).await;
        tokio::time::sleep(Duration::from_millis(fastrand::u64(100..1_200))).await;
        kill(running.take());
        let (restarted, restarted_url) = serve(&data);
        running = KillOnDrop::new(restarted);
        url = restarted_url;
    }
    let total = KILLS * EVENTS_PER_CYCLE;
    wait_for(&http, &url, "caught up", Duration::from_secs(300), |s| {
        s["group"]["checkpoint"] == total && s["group"]["in_flight"] == 0
    })
    .await;
    let messages = broker.read("events");
    let duplicates = check_topic(&messages, total);
    println!(
        "{} messages for {total} events over {KILLS} kills: {duplicates} duplicates, from deliveries in flight at a kill",
        messages.len()
    );
    let (ok, out, err) = client(&url, &["sinks", "status", "relay"]);
    assert!(ok, "{err}");
    assert!(out.contains("running"), "{out}");
    kill(running.take());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_stopped_for_thirty_seconds_loses_nothing() {
    let mut broker = Broker::start();
    broker.create_topic("events", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (running, url) = serve(&data);
    let mut running = KillOnDrop::new(running);
    let made = http
        .post(format!("{url}/v1/sinks"))
        .json(&json!({"name": "relay", "kafka": {"brokers": broker.address, "topic": "events"}}))
        .send()
        .await
        .expect("answers");
    assert_eq!(made.status(), 201);
    append_cycle(&http, &url, 0).await;
    wait_for(&http, &url, "published", Duration::from_secs(60), |s| {
        s["published"] == EVENTS_PER_CYCLE
    })
    .await;

    signal(&broker.child, "-STOP");
    let stopped = Instant::now();
    append_cycle(&http, &url, 1).await;
    let waiting = wait_for(&http, &url, "waiting", Duration::from_secs(25), |s| {
        s["state"] == "waiting"
    })
    .await;
    assert!(waiting["last_error"].is_string(), "{waiting}");
    let left = Duration::from_secs(30).saturating_sub(stopped.elapsed());
    tokio::time::sleep(left).await;
    signal(&broker.child, "-CONT");

    let total = 2 * EVENTS_PER_CYCLE;
    let done = wait_for(&http, &url, "caught up", Duration::from_secs(120), |s| {
        s["group"]["checkpoint"] == total && s["group"]["in_flight"] == 0
    })
    .await;
    assert_eq!(done["group"]["parked"], 0, "nothing was parked: {done}");
    let messages = broker.read("events");
    let duplicates = check_topic(&messages, total);
    println!("broker stopped for 30 s: {duplicates} duplicates");
    kill(running.take());
    broker.child.kill().ok();
}
