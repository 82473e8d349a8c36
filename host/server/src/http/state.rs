//! [`AppState`]: what every handler shares.

use std::sync::Arc;

use cairn_runtime::{CommandPath, Projections, Reactors};
use cairn_store::EventStore;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::console::ConsoleSecret;
use crate::http::stats::ServerStats;
use crate::node::Node;

/// The store, the command path, the API key, the server's stats and the shutdown signal. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) command_path: Arc<CommandPath>,
    /// The node's runners, which change as a shared store's runner lease comes and goes.
    seat: crate::runners::Seat,
    pub(crate) api_key: Option<Arc<str>>,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) stats: Arc<ServerStats>,
    /// The embedded store, for `GET /v1/backup` (`None` on PostgreSQL), and where it makes
    /// its copies.
    pub(crate) redb: Option<cairn_store::RedbStore>,
    pub(crate) backup_dir: std::path::PathBuf,
    /// What the console's sessions are derived with, drawn at start.
    pub(crate) console_secret: ConsoleSecret,
    shutdown: Arc<watch::Sender<bool>>,
}

impl AppState {
    /// The state for `node`. With `api_key`, every route but `/healthz` needs it as a bearer
    /// token.
    pub fn new(node: &Node, api_key: Option<String>) -> Self {
        Self {
            store: Arc::clone(node.store()),
            command_path: Arc::clone(node.command_path()),
            seat: node.seat().clone(),
            api_key: api_key.map(Arc::from),
            metrics: crate::telemetry::prometheus(),
            stats: Arc::new(ServerStats::new(node.data_dir().join("store"))),
            redb: node.redb().cloned(),
            backup_dir: node.data_dir().join("backups"),
            console_secret: ConsoleSecret::draw(),
            shutdown: Arc::new(watch::Sender::new(false)),
        }
    }

    /// The projections now (dormant ones while another node runs them).
    pub(crate) fn projections(&self) -> Projections {
        self.seat.current().projections
    }

    /// The reactors now.
    pub(crate) fn reactors(&self) -> Reactors {
        self.seat.current().reactors
    }

    /// The consumer groups now.
    pub(crate) fn groups(&self) -> cairn_groups::Groups {
        self.seat.current().groups
    }

    /// The sinks now.
    pub(crate) fn sinks(&self) -> cairn_sinks::Sinks {
        self.seat.current().sinks
    }

    /// Tells long-lived responses (subscriptions) to end, so a graceful shutdown can finish.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves once [`AppState::begin_shutdown`] has been called.
    pub(crate) fn shutting_down(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut signal = self.shutdown.subscribe();
        async move {
            let _ = signal.wait_for(|stopping| *stopping).await;
        }
    }
}
