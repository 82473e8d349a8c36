//! [`LocalServer`]: the real HTTP API over a node, on 127.0.0.1 at a port the system picks, in
//! this process. The end-to-end tests and the HTTP benches start their servers with it, so both
//! drive exactly what `cairn serve` serves.

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{AppState, HttpConfig, serve_with};
use crate::node::Node;

/// A running server; [`LocalServer::stop`] shuts it down gracefully.
#[derive(Debug)]
pub struct LocalServer {
    address: std::net::SocketAddr,
    base: String,
    stop: oneshot::Sender<()>,
    served: JoinHandle<std::io::Result<()>>,
}

impl LocalServer {
    /// Serves `node` on 127.0.0.1:0, with `api_key` required if given.
    pub async fn start(node: &Node, api_key: Option<String>) -> std::io::Result<Self> {
        Self::start_with(node, api_key, HttpConfig::default()).await
    }

    /// Serves `node` on 127.0.0.1:0 with the connection settings of `config`.
    pub async fn start_with(
        node: &Node,
        api_key: Option<String>,
        config: HttpConfig,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let base = format!("http://{address}");
        let state = AppState::new(node, api_key);
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(serve_with(listener, state, config, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            address,
            base,
            stop,
            served,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Stops accepting, lets the requests in flight finish, and returns how serving ended.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.served.await.map_err(std::io::Error::other)?
    }
}
