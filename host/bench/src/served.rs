//! [`Served`]: a node with modules loaded and the real HTTP server over it
//! ([`LocalServer`]), for the benches that drive cairn over HTTP from the same process.

use std::path::Path;

use cairn_server::http::LocalServer;
use cairn_server::node::Node;
use cairn_server::settings::Settings;

pub(crate) struct Served {
    pub(crate) node: Node,
    server: LocalServer,
}

impl Served {
    /// Opens a node in `dir`, uploads `modules` (name and bytes), and starts serving.
    pub(crate) async fn start(dir: &Path, modules: Vec<(&str, Vec<u8>)>) -> anyhow::Result<Self> {
        Self::start_with(dir, &Settings::default(), modules).await
    }

    /// [`Served::start`] with `settings` (a store on PostgreSQL, say).
    pub(crate) async fn start_with(
        dir: &Path,
        settings: &Settings,
        modules: Vec<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Self> {
        let node = Node::open(dir, settings).await?;
        for (name, bytes) in modules {
            node.registry().upload(name, bytes).await?;
        }
        let server = LocalServer::start(&node, None).await?;
        Ok(Self { node, server })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> &str {
        self.server.base()
    }

    /// Shuts the server down gracefully and closes the node.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await?;
        self.node.close().await;
        Ok(())
    }
}
