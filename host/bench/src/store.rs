//! `cairn bench store`: the event store alone, on a temporary database on disk.
//!
//! Every append is durable (fsync before it returns). The workloads run one after another on
//! the same database, which grows to 1,000,000 events for the global-log read.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cairn_store::{
    AllRead, EventLog, EventType, ExpectedVersion, Json, NewEvent, Position, RedbOptions,
    RedbStore, StreamId, StreamRead, Version,
};

use super::bank::Progress;
use super::load::drive;
use super::report::{Figure, Report, Target};
use super::scaled;

const STREAMS: usize = 10_000;
const PAGE: usize = 1_000;

fn stream(name: &str) -> anyhow::Result<StreamId> {
    Ok(StreamId::new(name)?)
}

/// A small, typical event: about 80 bytes of JSON.
fn event(n: usize) -> anyhow::Result<NewEvent> {
    Ok(NewEvent::new(
        EventType::new("Deposited")?,
        Json::parse(&format!(
            r#"{{"amount":{},"currency":"EUR","reference":"bench-{n:08}"}}"#,
            n % 1000
        ))?,
    ))
}

/// Reads `stream` forward in pages of `page` events; returns how many it read.
async fn read_whole_stream(
    store: &RedbStore,
    stream: &StreamId,
    page: usize,
) -> anyhow::Result<usize> {
    let mut from = Version::new(1);
    let mut read = 0;
    loop {
        let slice = store
            .read_stream(stream.clone(), StreamRead::forward().from(from).limit(page))
            .await?;
        let Some(last) = slice.events.last() else {
            return Ok(read);
        };
        read += slice.events.len();
        from = Version::new(last.version.get() + 1);
    }
}

/// Reads the global log from the start in pages of [`PAGE`] until `len`; returns how many events.
async fn read_whole_log(store: &RedbStore, len: u64) -> anyhow::Result<u64> {
    let mut after = Position::START;
    let mut read = 0u64;
    while after.get() < len {
        let slice = store.read_all(AllRead::after(after).limit(PAGE)).await?;
        read += slice.events.len() as u64;
        after = slice.scanned_to;
    }
    Ok(read)
}

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let store = Arc::new(RedbStore::open(dir, RedbOptions::default()).await?);
    let progress = Progress(progress);
    let say = |what: &str| progress.say(what);
    let mut figures = Vec::new();

    say("single-event appends, 1 writer");
    let n1 = scaled(2_000, scale);
    let result = drive(1, n1, {
        let store = store.clone();
        move |_, n| {
            let store = store.clone();
            async move {
                store
                    .append(stream("solo-1")?, ExpectedVersion::Any, vec![event(n)?])
                    .await?;
                Ok(())
            }
        }
    })
    .await?;
    figures.push(Figure {
        key: "append_1_per_s",
        value: result.per_second(1),
        unit: "appends/s",
        workload: format!("{n1} single-event appends, 1 writer"),
        target: None,
    });
    figures.push(Figure {
        key: "append_1_p99_ms",
        value: result.quantile_ms(0.99),
        unit: "ms",
        workload: "the same, latency".into(),
        target: None,
    });

    say("single-event appends, 64 writers over 10,000 streams");
    let per_writer = scaled(1_600, scale);
    let result = drive(64, per_writer, {
        let store = store.clone();
        move |_, n| {
            let store = store.clone();
            async move {
                let target = stream(&format!("account-{}", fastrand::usize(..STREAMS)))?;
                store
                    .append(target, ExpectedVersion::Any, vec![event(n)?])
                    .await?;
                Ok(())
            }
        }
    })
    .await?;
    let workload = format!(
        "{} single-event appends, 64 writers, {STREAMS} streams",
        64 * per_writer
    );
    figures.push(Figure {
        key: "append_64_per_s",
        value: result.per_second(1),
        unit: "appends/s",
        workload: workload.clone(),
        target: Some(Target::AtLeast(25_000.0)),
    });
    figures.push(Figure {
        key: "append_64_p50_ms",
        value: result.quantile_ms(0.50),
        unit: "ms",
        workload: workload.clone(),
        target: None,
    });
    figures.push(Figure {
        key: "append_64_p99_ms",
        value: result.quantile_ms(0.99),
        unit: "ms",
        workload,
        target: Some(Target::AtMost(5.0)),
    });

    say("100-event appends, 16 writers");
    let per_writer = scaled(250, scale);
    let result = drive(16, per_writer, {
        let store = store.clone();
        move |_, n| {
            let store = store.clone();
            async move {
                let target = stream(&format!("ledger-{}", fastrand::usize(..STREAMS)))?;
                let events = (0..100)
                    .map(|i| event(n * 100 + i))
                    .collect::<anyhow::Result<_>>()?;
                store.append(target, ExpectedVersion::Any, events).await?;
                Ok(())
            }
        }
    })
    .await?;
    figures.push(Figure {
        key: "append_batch100_events_per_s",
        value: result.per_second(100),
        unit: "events/s",
        workload: format!("{} appends of 100 events, 16 writers", 16 * per_writer),
        target: Some(Target::AtLeast(80_000.0)),
    });

    let long_len = scaled(100_000, scale);
    say(&format!("writing one {long_len}-event stream"));
    let long = stream("long-1")?;
    for chunk in 0..long_len.div_ceil(1_000) {
        let count = 1_000.min(long_len - chunk * 1_000);
        let events = (0..count)
            .map(|i| event(chunk * 1_000 + i))
            .collect::<anyhow::Result<_>>()?;
        store
            .append(long.clone(), ExpectedVersion::Any, events)
            .await?;
    }
    say("reading it");
    // In pages of 10,000 (how cairn's loader reads a long stream), then of 1,000 (an HTTP page).
    for (key, page, target) in [
        (
            "read_stream_events_per_s",
            10_000,
            Some(Target::AtLeast(5_000_000.0)),
        ),
        ("read_stream_page1000_events_per_s", PAGE, None),
    ] {
        // One untimed pass first: the first reads of a process grow its heap.
        let warm = read_whole_stream(&store, &long, page).await?;
        anyhow::ensure!(warm == long_len, "read {warm} of {long_len} events");
        let passes = 10;
        let began = Instant::now();
        for _ in 0..passes {
            let read = read_whole_stream(&store, &long, page).await?;
            anyhow::ensure!(read == long_len, "read {read} of {long_len} events");
        }
        figures.push(Figure {
            key,
            value: (passes * long_len) as f64 / began.elapsed().as_secs_f64(),
            unit: "events/s",
            workload: format!(
                "read one {long_len}-event stream in pages of {page}, {passes} times"
            ),
            target,
        });
    }

    let log_len = scaled(1_000_000, scale) as u64;
    say(&format!("filling the global log to {log_len} events"));
    while store.head().get() < log_len {
        let missing = (log_len - store.head().get()) as usize;
        let appends = missing.div_ceil(100);
        let per_writer = appends.div_ceil(16);
        drive(16, per_writer, {
            let store = store.clone();
            move |w, n| {
                let store = store.clone();
                async move {
                    if store.head().get() >= log_len {
                        return Ok(());
                    }
                    let target = stream(&format!("fill-{}", fastrand::usize(..STREAMS)))?;
                    let events = (0..100)
                        .map(|i| event(w * 1_000_000 + n * 100 + i))
                        .collect::<anyhow::Result<_>>()?;
                    store.append(target, ExpectedVersion::Any, events).await?;
                    Ok(())
                }
            }
        })
        .await?;
    }
    say("reading the global log");
    // One untimed pass first, as for the stream.
    read_whole_log(&store, log_len).await?;
    let began = Instant::now();
    let read = read_whole_log(&store, log_len).await?;
    let elapsed = began.elapsed();
    anyhow::ensure!(read >= log_len, "read {read} of {log_len} events");
    figures.push(Figure {
        key: "read_all_events_per_s",
        value: read as f64 / elapsed.as_secs_f64(),
        unit: "events/s",
        workload: format!("read a {read}-event global log in pages of {PAGE}"),
        target: Some(Target::AtLeast(1_000_000.0)),
    });

    if let Ok(store) = Arc::try_unwrap(store) {
        store.close().await;
    }
    Ok(Report {
        scenario: "store",
        scale,
        figures,
    })
}
