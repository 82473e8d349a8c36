//! `cairn bench ui`: what the console asks of the server, with 1,000,000 streams of one event
//! each in the store (1,000,000 events) and `bank_account` and `account_balances` loaded.
//!
//! The console is static files that call the public API, so a page's server time is the time
//! to answer the requests it makes when it opens, sent at once as the page sends them:
//! - the overview: the shell (`/ui/`), `/v1/stats`, `/v1/modules` and `/v1/projections`;
//! - a stream page: the shell, `/v1/modules` and the newest 20 events of a stream of 1,000;
//! - a stream search: `/v1/streams?prefix=...&limit=25`, a random prefix of a stream's name
//!   each time (one of 10, 100 or 1,000 names match it).
//!
//! Each is timed from the first request sent to the last reply read, one page at a time.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_store::{EventStore, ExpectedVersion, NewEvent, StreamId};
use futures_util::StreamExt;

use super::report::{Figure, Report, Target};
use super::scaled;
use super::served::Served;
use cairn_server::guests;

const STREAMS: usize = 1_000_000;
const LOADS: usize = 200;
const WRITERS: usize = 64;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let say = |what: &str| {
        if progress {
            eprintln!("… {what}");
        }
    };
    say("building bank_account and account_balances for wasm32-wasip2");
    let served = Served::start(
        dir,
        vec![
            ("bank_account", guests::build("bank_account")?),
            ("account_balances", guests::build("account_balances")?),
        ],
    )
    .await?;
    let store = Arc::clone(served.node.store());
    let streams = scaled(STREAMS, scale).max(1_000);
    say(&format!("appending {streams} streams of one event each"));
    seed(&store, streams).await?;
    let long = StreamId::new("bench-long")?;
    let events = (0..1_000)
        .map(|n| pinged(n as u64))
        .collect::<anyhow::Result<Vec<_>>>()?;
    store
        .append(long, ExpectedVersion::NoStream, events)
        .await?;
    say("waiting for account_balances to reach the head");
    let head = store.head().get();
    let started = Instant::now();
    while served
        .node
        .projections()
        .status("account_balances")
        .await?
        .is_none_or(|s| s.serving.position < head)
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "account_balances did not reach the head in ten minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let client = &reqwest::Client::new();
    let base = &served.base().to_owned();
    say(&format!("opening the overview {LOADS} times"));
    let overview = timed(LOADS, |_| {
        page(
            client,
            base,
            &["/ui/", "/v1/stats", "/v1/modules", "/v1/projections"],
        )
    })
    .await?;
    say(&format!("opening a stream page {LOADS} times"));
    let stream = timed(LOADS, |_| {
        page(
            client,
            base,
            &[
                "/ui/streams/bench-long",
                "/v1/modules",
                "/v1/streams/bench-long?direction=backward&limit=20",
            ],
        )
    })
    .await?;
    say(&format!("searching streams by prefix {LOADS} times"));
    let search = timed(LOADS, |_| {
        let n = fastrand::usize(..streams);
        // Seven digits: cut after 4, 5 or 6 of them, so 1,000, 100 or 10 names match.
        let cut = "bench-".len() + fastrand::usize(4..=6);
        let prefix = format!("bench-{n:07}")[..cut].to_owned();
        let path = format!("/v1/streams?prefix={prefix}&limit=25");
        async move { page(client, base, &[path.as_str()]).await }
    })
    .await?;
    served.stop().await?;

    let events = streams + 1_000;
    let mut figures = Vec::new();
    for ((p50, p99), result, workload, target) in [
        (
            ("ui_overview_p50_ms", "ui_overview_p99_ms"),
            &overview,
            format!("the overview's four requests at once, {events} events in the store"),
            100.0,
        ),
        (
            ("ui_stream_page_p50_ms", "ui_stream_page_p99_ms"),
            &stream,
            format!(
                "a stream page's three requests at once (its newest 20 of 1,000 events), {events} events in the store"
            ),
            100.0,
        ),
        (
            ("ui_stream_search_p50_ms", "ui_stream_search_p99_ms"),
            &search,
            format!(
                "GET /v1/streams?prefix=... (25 of 10 to 1,000 matches) over {streams} streams"
            ),
            50.0,
        ),
    ] {
        figures.push(Figure {
            key: p50,
            value: result.percentile(0.50),
            unit: "ms",
            workload: format!("{workload}; {LOADS} loads"),
            target: None,
        });
        figures.push(Figure {
            key: p99,
            value: result.percentile(0.99),
            unit: "ms",
            workload: format!("{workload}; {LOADS} loads"),
            target: Some(Target::AtMost(target)),
        });
    }
    Ok(Report {
        scenario: "ui",
        scale,
        figures,
    })
}

fn pinged(n: u64) -> anyhow::Result<NewEvent> {
    Ok(NewEvent::new(
        cairn_store::EventType::new("Pinged")?,
        cairn_store::Json::parse(&format!(r#"{{"n":{n}}}"#))?,
    ))
}

/// Appends one event to each of `bench-0000000` to `bench-{streams - 1}`.
async fn seed(store: &Arc<dyn EventStore>, streams: usize) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(0..streams)
        .map(|n| {
            let store = Arc::clone(store);
            async move {
                let stream = StreamId::new(&format!("bench-{n:07}"))?;
                store
                    .append(stream, ExpectedVersion::NoStream, vec![pinged(n as u64)?])
                    .await?;
                Ok(())
            }
        })
        .buffer_unordered(WRITERS)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Sends every request of a page at once and reads every reply.
async fn page(client: &reqwest::Client, base: &str, paths: &[&str]) -> anyhow::Result<()> {
    let replies = futures_util::future::join_all(paths.iter().map(|path| async move {
        let reply = client.get(format!("{base}{path}")).send().await?;
        anyhow::ensure!(
            reply.status().is_success(),
            "{path} answered {}",
            reply.status()
        );
        reply.bytes().await?;
        anyhow::Ok(())
    }))
    .await;
    replies.into_iter().collect()
}

/// Latencies of `loads` runs of `load`, one at a time.
struct Timings(Vec<f64>);

impl Timings {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(at).copied().unwrap_or(0.0)
    }
}

async fn timed<F, Fut>(loads: usize, mut load: F) -> anyhow::Result<Timings>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut took = Vec::with_capacity(loads);
    for n in 0..loads {
        let started = Instant::now();
        load(n).await?;
        took.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    Ok(Timings(took))
}
