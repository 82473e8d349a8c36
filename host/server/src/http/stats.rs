//! `GET /v1/stats` and `GET /v1/stats/subscribe`: what the server is doing, for the console's
//! overview and for anyone who would rather read one reply than scrape `/metrics`.
//!
//! [`ServerStats`] counts the commands the API decided; a sampler ([`ServerStats::sample`], run
//! by the edge while it serves) records the log's head and that count every
//! [`SAMPLE_EVERY`], keeping the last [`SAMPLES_KEPT`]. Rates are differences of neighbouring
//! samples. The subscription sends a sample of its own each second, and at once when a
//! projection's status changes, with every projection's status, so a page stays current
//! without asking again.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use cairn_runtime::ProjectionStatus;
use futures_util::stream::{self, Stream, StreamExt};

use crate::http::state::AppState;

/// How often the sampler records the head and the command count.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How many samples are kept: ten minutes of them.
pub(crate) const SAMPLES_KEPT: usize = 120;
/// How often a subscription sends at least.
const SEND_EVERY: Duration = Duration::from_secs(1);
/// How often a subscription looks for a projection's change, which it sends at once.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// The head and the commands decided at one moment.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at_ms: u64,
    head: u64,
    commands: u64,
}

/// Counters of the API's work, and their recent history.
#[derive(Debug)]
pub(crate) struct ServerStats {
    commands: AtomicU64,
    samples: Mutex<VecDeque<Sample>>,
    store_path: PathBuf,
}

impl ServerStats {
    /// Stats of a server whose store is kept at `store_path`.
    pub(crate) fn new(store_path: PathBuf) -> Self {
        Self {
            commands: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::with_capacity(SAMPLES_KEPT)),
            store_path,
        }
    }

    /// Counts a command the API decided (accepted or rejected).
    pub(crate) fn command_decided(&self) {
        self.commands.fetch_add(1, Ordering::Relaxed);
    }

    fn now(&self, head: u64) -> Sample {
        Sample {
            at_ms: now_ms(),
            head,
            commands: self.commands.load(Ordering::Relaxed),
        }
    }

    /// Records a sample at `head`, dropping the oldest past [`SAMPLES_KEPT`].
    pub(crate) fn sample(&self, head: u64) {
        let sample = self.now(head);
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() == SAMPLES_KEPT {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// The rates between each pair of neighbouring samples, the last pair ending now.
    fn rates(&self, head: u64) -> Vec<Rate> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.now(head);
        samples
            .iter()
            .zip(samples.iter().skip(1).chain(std::iter::once(&now)))
            .filter_map(|(a, b)| Rate::between(a, b))
            .collect()
    }

    /// The bytes the store's files take, counted on a blocking thread.
    async fn store_bytes(&self) -> u64 {
        let path = self.store_path.clone();
        tokio::task::spawn_blocking(move || bytes_under(&path))
            .await
            .unwrap_or(0)
    }
}

/// Samples `state`'s head and command count every [`SAMPLE_EVERY`], until aborted.
pub(crate) async fn sample_while_serving(state: AppState) {
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        state.stats.sample(state.store.head().get());
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The size of a file, or of every file under a directory.
fn bytes_under(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|entry| bytes_under(&entry.path()))
            .sum()
    })
}

/// Events and commands per second over a span ending at `at_ms`.
#[derive(Clone, Copy, Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Rate {
    /// The span's end, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Events appended per second over the span.
    pub events_per_s: f64,
    /// Commands decided (accepted or rejected) per second over the span.
    pub commands_per_s: f64,
}

impl Rate {
    fn between(a: &Sample, b: &Sample) -> Option<Self> {
        let span = b.at_ms.checked_sub(a.at_ms).filter(|ms| *ms > 0)? as f64 / 1_000.0;
        Some(Self {
            at_ms: b.at_ms,
            events_per_s: b.head.saturating_sub(a.head) as f64 / span,
            commands_per_s: b.commands.saturating_sub(a.commands) as f64 / span,
        })
    }
}

/// The server's stats.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Stats {
    /// The version of cairn serving.
    pub version: &'static str,
    /// The position of the newest event.
    pub head: u64,
    /// The bytes the store's files take on disk.
    pub store_bytes: u64,
    /// Commands decided since the server started.
    pub commands: u64,
    /// Rates over the last ten minutes, oldest first, one every five seconds (the last ends
    /// now).
    pub rates: Vec<Rate>,
}

/// The server's version, store, and recent rates.
#[utoipa::path(
    get,
    path = "/v1/stats",
    operation_id = "stats",
    responses((status = 200, description = "The version, the head, the store's size, and events and commands per second over the last ten minutes", body = Stats)),
    tag = "operations"
)]
pub(crate) async fn stats(State(state): State<AppState>) -> Json<Stats> {
    let head = state.store.head().get();
    let stats = &state.stats;
    Json(Stats {
        version: env!("CARGO_PKG_VERSION"),
        head,
        store_bytes: stats.store_bytes().await,
        commands: stats.commands.load(Ordering::Relaxed),
        rates: stats.rates(head),
    })
}

/// What a stats subscription sends each second.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct LiveStats {
    /// The position of the newest event.
    pub head: u64,
    /// The bytes the store's files take on disk.
    pub store_bytes: u64,
    /// Rates since the event before.
    #[serde(flatten)]
    pub rate: Rate,
    /// Every projection's status.
    #[schema(value_type = Vec<crate::http::openapi::ProjectionStatusDoc>)]
    pub projections: Vec<ProjectionStatus>,
}

/// Streams the head, the rates and every projection's status, once a second and whenever a
/// projection's status changes.
#[utoipa::path(
    get,
    path = "/v1/stats/subscribe",
    operation_id = "subscribe_stats",
    responses((status = 200, description = "`text/event-stream`: a `stats` event each second, and within 200 ms of a projection's change, whose data is the head, the store's size, events and commands per second since the event before, and every projection's status", content_type = "text/event-stream", body = LiveStats)),
    tag = "operations"
)]
pub(crate) async fn subscribe(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stopping = state.shutting_down();
    let first = Sent {
        sample: state.stats.now(state.store.head().get()),
        projections: Vec::new(),
    };
    let updates = stream::unfold((state, first), |(state, before)| async move {
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            let head = state.store.head().get();
            let now = state.stats.now(head);
            // A dormant node reads the statuses from the store; on a failure the last ones stand.
            let projections = match state.projections().list().await {
                Ok(projections) => projections,
                Err(_) => before.projections.clone(),
            };
            let due =
                now.at_ms.saturating_sub(before.sample.at_ms) >= SEND_EVERY.as_millis() as u64;
            if !due && projections == before.projections {
                continue;
            }
            let live = LiveStats {
                head,
                store_bytes: state.stats.store_bytes().await,
                rate: Rate::between(&before.sample, &now).unwrap_or(Rate {
                    at_ms: now.at_ms,
                    events_per_s: 0.0,
                    commands_per_s: 0.0,
                }),
                projections,
            };
            let event = Event::default()
                .event("stats")
                .json_data(&live)
                .unwrap_or_else(|_| Event::default().event("stats"));
            let sent = Sent {
                sample: now,
                projections: live.projections,
            };
            return Some((Ok(event), (state, sent)));
        }
    });
    Sse::new(updates.take_until(stopping)).keep_alive(KeepAlive::default())
}

/// What a subscription sent last.
struct Sent {
    sample: Sample,
    projections: Vec<ProjectionStatus>,
}

#[cfg(test)]
mod tests {
    use super::{SAMPLES_KEPT, Sample, ServerStats};

    #[test]
    fn rates_are_differences_of_neighbouring_samples_and_the_oldest_go() {
        let stats = ServerStats::new("/nonexistent".into());
        {
            let mut samples = stats.samples.lock().expect("lock");
            for i in 0..SAMPLES_KEPT as u64 + 3 {
                if samples.len() == SAMPLES_KEPT {
                    samples.pop_front();
                }
                samples.push_back(Sample {
                    at_ms: 1_000 + i * 5_000,
                    head: i * 50,
                    commands: i * 10,
                });
            }
        }
        let rates = super::Rate::between(
            &Sample {
                at_ms: 0,
                head: 0,
                commands: 0,
            },
            &Sample {
                at_ms: 2_000,
                head: 30,
                commands: 4,
            },
        )
        .expect("a span");
        assert_eq!((rates.events_per_s, rates.commands_per_s), (15.0, 2.0));
        let samples = stats.samples.lock().expect("lock");
        assert_eq!(samples.len(), SAMPLES_KEPT);
        assert_eq!(samples.front().map(|s| s.head), Some(150));
    }
}
