//! `cairn bench groups`: consumer groups and the Kafka sink, over the real HTTP server.
//!
//! - Delivery rate: 200,000 events, 10 to a stream, are appended first; then 4 members
//!   long-poll the group (1,000 deliveries a poll at most) and acknowledge each page, until
//!   every event is acknowledged.
//! - Live latency: a group started at the head, one member long-polling; 500 events appended
//!   one at a time, 5 ms apart, each to its own stream; for each, the time from its append
//!   being acknowledged to the member holding its delivery.
//! - Kafka sink rate: 100,000 events, 10 to a stream, are appended, then a sink to a local
//!   tansu broker (a 3-partition topic) is made, and the time until it has published every
//!   event is taken. It needs tansu (`cargo install tansu --locked --features dynostore`, or
//!   `CAIRN_TANSU`).
//!
//! A group has one event of a key out at a time, so a key's events go one round trip apart:
//! the rates depend on how many keys are waiting, which is why the events are spread as an
//! event store's usually are, a few to an aggregate's stream.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cairn_store::{EventStore, EventType, ExpectedVersion, Json, NewEvent, StreamId};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::bank::Progress;
use super::report::{Figure, Report, Target};
use super::scaled;
use super::served::Served;

const EVENTS: usize = 200_000;
/// Events per stream: an aggregate's few events, appended together.
const PER_STREAM: usize = 10;
const MEMBERS: usize = 4;
const POLL_MAX: usize = 1_000;
const SAMPLES: usize = 500;
const KAFKA_EVENTS: usize = 100_000;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let progress = Progress(progress);
    let tansu = tansu()?;
    let served = Served::start(&dir.join("node"), Vec::new()).await?;
    let store = Arc::clone(served.node.store());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(16)
        .build()?;
    let base = served.base().to_owned();

    let events = scaled(EVENTS, scale);
    progress.say(&format!(
        "appending {events} events, {PER_STREAM} to a stream"
    ));
    append(&store, "bench", events).await?;
    post(
        &http,
        &format!("{base}/v1/groups"),
        json!({"name": "bench", "filter": {"categories": ["bench"]}}),
    )
    .await?;
    progress.say(&format!("{MEMBERS} members polling and acknowledging"));
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let members: Vec<_> = (0..MEMBERS)
        .map(|m| {
            tokio::spawn(member(
                http.clone(),
                base.clone(),
                format!("m{m}"),
                Arc::clone(&acked),
                events as u64,
            ))
        })
        .collect();
    for member in members {
        member.await??;
    }
    let delivered_per_s = events as f64 / started.elapsed().as_secs_f64();

    progress.say(&format!(
        "{SAMPLES} events appended one at a time, 5 ms apart, to a live group"
    ));
    let live = latencies(&store, &http, &base).await?;

    let kafka_events = scaled(KAFKA_EVENTS, scale);
    progress.say(&format!(
        "a Kafka sink over {kafka_events} events, to tansu on 127.0.0.1"
    ));
    let broker = Broker::start(&tansu)?;
    append(&store, "kbench", kafka_events).await?;
    let started = Instant::now();
    post(
        &http,
        &format!("{base}/v1/sinks"),
        json!({"name": "kbench", "kafka": {"brokers": broker.address, "topic": "kbench"},
               "filter": {"categories": ["kbench"]}}),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let status: Value = http
            .get(format!("{base}/v1/sinks/kbench"))
            .send()
            .await?
            .json()
            .await?;
        if status["published"].as_u64() >= Some(kafka_events as u64) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the sink never caught up: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kafka_per_s = kafka_events as f64 / started.elapsed().as_secs_f64();
    drop(broker);
    served.stop().await?;

    let figures = vec![
        Figure {
            key: "group_delivered_per_s",
            value: delivered_per_s,
            unit: "events/s",
            workload: format!(
                "{events} events, {PER_STREAM} to a stream, {MEMBERS} members long-polling over HTTP ({POLL_MAX} a poll) and acknowledging each page"
            ),
            target: Some(Target::AtLeast(100_000.0)),
        },
        Figure {
            key: "group_live_p99_ms",
            value: quantile_ms(&live, 0.99),
            unit: "ms",
            workload: format!(
                "{SAMPLES} events 5 ms apart, append acknowledged to delivery held by a long-polling member"
            ),
            target: Some(Target::AtMost(20.0)),
        },
        Figure {
            key: "group_live_p50_ms",
            value: quantile_ms(&live, 0.5),
            unit: "ms",
            workload: "the same".into(),
            target: None,
        },
        Figure {
            key: "kafka_sink_per_s",
            value: kafka_per_s,
            unit: "events/s",
            workload: format!(
                "{kafka_events} events, {PER_STREAM} to a stream, to a 3-partition topic of tansu on 127.0.0.1 (idempotent producer, acks=all), from the sink's creation to all published"
            ),
            target: Some(Target::AtLeast(50_000.0)),
        },
    ];
    Ok(Report {
        scenario: "groups",
        scale,
        figures,
    })
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Value> {
    let reply = http.post(url).json(&body).send().await?;
    let status = reply.status();
    let body: Value = reply.json().await?;
    anyhow::ensure!(status.is_success(), "POST {url}: {status} {body}");
    Ok(body)
}

/// Appends `events` events of category `category`, [`PER_STREAM`] to a stream, in one append
/// each.
async fn append(store: &Arc<dyn EventStore>, category: &str, events: usize) -> anyhow::Result<()> {
    let per_append = PER_STREAM;
    let appends = events.div_ceil(per_append);
    let mut done = 0;
    for n in 0..appends {
        let count = per_append.min(events - done);
        let batch = (0..count)
            .map(|i| {
                Ok(NewEvent::new(
                    EventType::new("Happened")?,
                    Json::parse(&format!(
                        r#"{{"n":{},"note":"an event of a bench"}}"#,
                        done + i
                    ))?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        store
            .append(
                StreamId::new(&format!("{category}-{n}"))?,
                ExpectedVersion::Any,
                batch,
            )
            .await?;
        done += count;
    }
    Ok(())
}

/// Polls and acknowledges until the members together have acknowledged `total`.
async fn member(
    http: reqwest::Client,
    base: String,
    id: String,
    acked: Arc<AtomicU64>,
    total: u64,
) -> anyhow::Result<()> {
    let poll = format!("{base}/v1/groups/bench/poll");
    let ack = format!("{base}/v1/groups/bench/ack");
    while acked.load(Ordering::Relaxed) < total {
        let page = post(
            &http,
            &poll,
            json!({"member": id, "max": POLL_MAX, "wait_ms": 200}),
        )
        .await?;
        let ids: Vec<&str> = page["deliveries"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|d| d["delivery"].as_str())
            .collect();
        if ids.is_empty() {
            continue;
        }
        post(&http, &ack, json!({"deliveries": ids})).await?;
        acked.fetch_add(ids.len() as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// The time from each sample's append to a long-polling member holding its delivery.
async fn latencies(
    store: &Arc<dyn EventStore>,
    http: &reqwest::Client,
    base: &str,
) -> anyhow::Result<Histogram<u64>> {
    post(
        http,
        &format!("{base}/v1/groups"),
        json!({"name": "live", "start": "end", "filter": {"categories": ["live"]}}),
    )
    .await?;
    let appended: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let received: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let listener = {
        let (http, base, received) = (http.clone(), base.to_owned(), Arc::clone(&received));
        tokio::spawn(async move {
            let poll = format!("{base}/v1/groups/live/poll");
            let ack = format!("{base}/v1/groups/live/ack");
            while received
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
                < SAMPLES
            {
                let page = post(
                    &http,
                    &poll,
                    json!({"member": "live", "max": 100, "wait_ms": 1000}),
                )
                .await?;
                let now = Instant::now();
                let deliveries = page["deliveries"].as_array().cloned().unwrap_or_default();
                let mut ids = Vec::new();
                for d in &deliveries {
                    if let Some(event) = d["event"]["id"].as_str() {
                        received
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .insert(event.to_owned(), now);
                    }
                    ids.extend(d["delivery"].as_str().map(str::to_owned));
                }
                if !ids.is_empty() {
                    post(&http, &ack, json!({"deliveries": ids})).await?;
                }
            }
            Ok::<_, anyhow::Error>(())
        })
    };
    // Let the member join before the first sample.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for sample in 0..SAMPLES {
        let event = NewEvent::new(EventType::new("Happened")?, Json::parse("{}")?);
        let id = event.id.to_string();
        store
            .append(
                StreamId::new(&format!("live-{sample}"))?,
                ExpectedVersion::NoStream,
                vec![event],
            )
            .await?;
        appended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Instant::now());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::timeout(Duration::from_secs(60), listener).await???;
    let mut latency = Histogram::new_with_bounds(1, 60_000_000, 3)?;
    let appended = appended.lock().unwrap_or_else(PoisonError::into_inner);
    let received = received.lock().unwrap_or_else(PoisonError::into_inner);
    for (id, at) in appended.iter() {
        if let Some(got) = received.get(id) {
            latency.saturating_record(got.saturating_duration_since(*at).as_micros() as u64);
        }
    }
    Ok(latency)
}

fn quantile_ms(histogram: &Histogram<u64>, q: f64) -> f64 {
    histogram.value_at_quantile(q) as f64 / 1_000.0
}

/// The tansu binary: `CAIRN_TANSU`, or `tansu` on the PATH.
fn tansu() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("CAIRN_TANSU") {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("tansu"))
                .find(|path| path.is_file())
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the groups bench measures the Kafka sink against a tansu broker: install it with \
                 `cargo install tansu --locked --features dynostore`, or set CAIRN_TANSU"
            )
        })
}

/// A tansu broker on 127.0.0.1 with a 3-partition topic `kbench`, killed when dropped.
struct Broker {
    child: Child,
    address: String,
}

impl Broker {
    fn start(tansu: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let child = Command::new(tansu)
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
            .spawn()?;
        let broker = Self { child, address };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&broker.address).is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                broker.address
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let made = Command::new(tansu)
            .args([
                "topic",
                "create",
                "kbench",
                "--partitions",
                "3",
                "--broker",
                &url,
            ])
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(made.success(), "tansu did not make the topic");
        Ok(broker)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
