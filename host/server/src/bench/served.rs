//! [`Served`]: a node with modules loaded and the real HTTP server over it on 127.0.0.1:0, for
//! the benches that drive cairn over HTTP from the same process.

use std::path::Path;

use crate::http::{self, AppState};
use crate::node::Node;
use crate::settings::Settings;

pub(crate) struct Served {
    pub(crate) node: Node,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    /// Opens a node in `dir`, uploads `modules` (name and bytes), and starts serving.
    pub(crate) async fn start(dir: &Path, modules: Vec<(&str, Vec<u8>)>) -> anyhow::Result<Self> {
        let node = Node::open(dir, &Settings::default()).await?;
        for (name, bytes) in modules {
            node.registry().upload(name, bytes).await?;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = AppState::new(&node, None);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            http::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .map_err(anyhow::Error::from)
        });
        Ok(Self {
            node,
            base,
            stop,
            server,
        })
    }

    /// Shuts the server down gracefully and closes the node.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        self.node.close().await;
        Ok(())
    }
}
