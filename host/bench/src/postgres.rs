//! `cairn bench http --postgres`: cairn on PostgreSQL, against the store teams build by hand
//! on it, on the same machine and in the same run.
//!
//! A throwaway cluster (`cairn-pg-cluster`, with fsync and synchronous commit on, as a
//! production database runs) holds two databases:
//! - `cairn`, served by two nodes in this process, each with the real HTTP server: 64
//!   connections, half on each node, append one event each to 10,000 streams;
//! - `peer`, the hand-built store of prooph and message-db ([`PEER_SCHEMA`]: one table, a
//!   unique (stream, version) index), driven by `pgbench` with the same 64 clients and the
//!   same number of appends ([`PEER_SCRIPT`], one transaction per append, the version taken as
//!   the stream's highest plus one).
//!
//! Then the same appends are made by 64 tasks through one node's store, without HTTP (where
//! the time goes), and the log is read whole from PostgreSQL through a node's store, in pages
//! of 1,000.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cairn_pg_cluster::{Cluster, Options};
use cairn_server::settings::{Settings, StoreConfig};
use cairn_store::{
    AllRead, EventStore, EventType, ExpectedVersion, Json, NewEvent, Position, StreamId,
};

use super::load::drive;
use super::report::{Figure, Report, Target};
use super::scaled;
use super::served::Served;

const CONNECTIONS: usize = 64;
const STREAMS: usize = 10_000;
const PAGE: usize = 1_000;

/// The peer's store: one table, positions from a sequence, one version per stream.
pub(crate) const PEER_SCHEMA: &str = "CREATE TABLE events (\
    position bigserial PRIMARY KEY, \
    stream text NOT NULL, \
    version bigint NOT NULL, \
    event_type text NOT NULL, \
    data jsonb NOT NULL, \
    UNIQUE (stream, version))";

/// One append to the peer: the next version of a random stream, in its own transaction. A
/// client that loses a race for a version writes nothing (`ON CONFLICT DO NOTHING`), as an
/// optimistic append that met a conflict.
pub(crate) const PEER_SCRIPT: &str = "\\set s random(1, 10000)\n\
    INSERT INTO events (stream, version, event_type, data) \
    SELECT 'bench-' || :s, coalesce(max(version), 0) + 1, 'Pinged', '{\"n\":1}' \
    FROM events WHERE stream = 'bench-' || :s \
    ON CONFLICT DO NOTHING;\n";

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let say = |what: &str| {
        if progress {
            eprintln!("… {what}");
        }
    };
    say("starting a throwaway PostgreSQL (fsync on)");
    let cluster = tokio::task::spawn_blocking(|| {
        Cluster::start(Options {
            fsync: true,
            max_connections: 300,
        })
    })
    .await??;
    let url = cluster.create_database("cairn")?;
    cluster.create_database("peer")?;
    cluster.psql("peer", PEER_SCHEMA)?;

    let settings = Settings {
        store: StoreConfig {
            url: Some(url.clone()),
        },
        ..Settings::default()
    };
    let nodes = [
        Served::start_with(&dir.join("node-1"), &settings, Vec::new()).await?,
        Served::start_with(&dir.join("node-2"), &settings, Vec::new()).await?,
    ];
    let bases: Vec<String> = nodes.iter().map(|n| n.base().to_owned()).collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()?;

    let per_connection = scaled(500, scale);
    let appends = CONNECTIONS * per_connection;
    say(&format!(
        "{CONNECTIONS} connections over two nodes appending one event each"
    ));
    let result = drive(CONNECTIONS, per_connection, {
        let (client, bases) = (client.clone(), bases.clone());
        move |connection, _| {
            let client = client.clone();
            let url = format!(
                "{}/v1/streams/bench-{}",
                bases[connection % bases.len()],
                fastrand::usize(..STREAMS)
            );
            async move {
                let reply = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(r#"{"events":[{"type":"Pinged","data":{"n":1}}]}"#)
                    .send()
                    .await?;
                anyhow::ensure!(reply.status() == 201, "append answered {}", reply.status());
                Ok(())
            }
        }
    })
    .await?;
    let cairn_per_s = result.per_second(1);
    let workload = format!(
        "{appends} single-event appends over HTTP, {CONNECTIONS} connections over 2 nodes, \
         {STREAMS} streams, one PostgreSQL"
    );
    let mut figures = vec![
        Figure {
            key: "pg_two_nodes_append_64_per_s",
            value: cairn_per_s,
            unit: "appends/s",
            workload: workload.clone(),
            target: None,
        },
        Figure {
            key: "pg_two_nodes_append_64_p99_ms",
            value: result.quantile_ms(0.99),
            unit: "ms",
            workload,
            target: Some(Target::AtMost(20.0)),
        },
    ];

    say(&format!(
        "{CONNECTIONS} tasks appending one event each through one node's store, no HTTP"
    ));
    let store: Arc<dyn EventStore> = Arc::clone(nodes[0].node.store());
    let direct = drive(CONNECTIONS, per_connection, {
        let store = Arc::clone(&store);
        move |_, _| {
            let store = Arc::clone(&store);
            async move {
                let stream = StreamId::new(&format!("direct-{}", fastrand::usize(..STREAMS)))?;
                let event = NewEvent::new(EventType::new("Pinged")?, Json::parse(r#"{"n":1}"#)?);
                store
                    .append(stream, ExpectedVersion::Any, vec![event])
                    .await?;
                Ok(())
            }
        }
    })
    .await?;
    let workload = format!(
        "{appends} single-event appends by {CONNECTIONS} tasks through one node's store \
         (no HTTP), {STREAMS} streams"
    );
    figures.push(Figure {
        key: "pg_store_append_64_per_s",
        value: direct.per_second(1),
        unit: "appends/s",
        workload: workload.clone(),
        target: None,
    });
    figures.push(Figure {
        key: "pg_store_append_64_p99_ms",
        value: direct.quantile_ms(0.99),
        unit: "ms",
        workload,
        target: None,
    });

    say(&format!(
        "the hand-built store: pgbench, {CONNECTIONS} clients, {appends} appends"
    ));
    let transactions = per_connection.to_string();
    let clients = CONNECTIONS.to_string();
    let cluster = Arc::new(cluster);
    let printed = {
        let cluster = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || {
            cluster.pgbench(
                "peer",
                PEER_SCRIPT,
                &["-c", &clients, "-j", "2", "-t", &transactions],
            )
        })
        .await??
    };
    let peer_per_s = tps(&printed)?;
    figures.push(Figure {
        key: "pg_peer_append_64_per_s",
        value: peer_per_s,
        unit: "appends/s",
        workload: format!(
            "the same appends to one hand-built table (unique stream and version) by pgbench, \
             {CONNECTIONS} clients"
        ),
        target: None,
    });
    figures.push(Figure {
        key: "pg_two_nodes_over_peer",
        value: cairn_per_s / peer_per_s,
        unit: "×",
        workload: "two cairn nodes' appends/s over the hand-built store's".into(),
        target: Some(Target::AtLeast(2.0)),
    });

    let log_len = scaled(200_000, scale) as u64;
    say(&format!("filling the log to {log_len} events"));
    fill(&store, log_len).await?;
    say("reading the log from PostgreSQL");
    read_log(&store, log_len).await?;
    let began = Instant::now();
    let read = read_log(&store, log_len).await?;
    figures.push(Figure {
        key: "pg_read_all_events_per_s",
        value: read as f64 / began.elapsed().as_secs_f64(),
        unit: "events/s",
        workload: format!("read a {read}-event global log from PostgreSQL in pages of {PAGE}"),
        target: Some(Target::AtLeast(200_000.0)),
    });

    for node in nodes {
        node.stop().await?;
    }
    Ok(Report {
        scenario: "http --postgres",
        scale,
        figures,
    })
}

/// pgbench's transactions per second, from what it printed.
fn tps(printed: &str) -> anyhow::Result<f64> {
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("pgbench printed no tps:\n{printed}"))
}

/// Appends 100-event batches from 16 writers until the log holds `len` events.
async fn fill(store: &Arc<dyn EventStore>, len: u64) -> anyhow::Result<()> {
    while store.head().get() < len {
        let missing = (len - store.head().get()) as usize;
        drive(16, missing.div_ceil(100).div_ceil(16), {
            let store = Arc::clone(store);
            move |_, _| {
                let store = Arc::clone(&store);
                async move {
                    let stream = StreamId::new(&format!("fill-{}", fastrand::usize(..STREAMS)))?;
                    let events = (0..100)
                        .map(|n| {
                            Ok(NewEvent::new(
                                EventType::new("Deposited")?,
                                Json::parse(&format!(r#"{{"amount":{n},"currency":"EUR"}}"#))?,
                            ))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    store.append(stream, ExpectedVersion::Any, events).await?;
                    Ok(())
                }
            }
        })
        .await?;
    }
    Ok(())
}

/// Reads the log from the start in pages of [`PAGE`] up to `len`; how many events it read.
async fn read_log(store: &Arc<dyn EventStore>, len: u64) -> anyhow::Result<u64> {
    let mut after = Position::START;
    let mut read = 0u64;
    while after.get() < len {
        let slice = store.read_all(AllRead::after(after).limit(PAGE)).await?;
        read += slice.events.len() as u64;
        after = slice.scanned_to;
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::tps;

    #[test]
    fn reads_the_rate_pgbench_prints() {
        let printed = "number of transactions actually processed: 32000/32000\n\
                       latency average = 7.126 ms\n\
                       initial connection time = 40.113 ms\n\
                       tps = 8981.427353 (without initial connection time)\n";
        assert_eq!(tps(printed).expect("a rate"), 8981.427353);
        assert!(tps("nothing").is_err());
    }
}
