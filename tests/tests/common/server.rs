//! The real HTTP server ([`LocalServer`], what the benches serve with too) on 127.0.0.1:0, on
//! a temporary data directory, with this repository's example modules uploaded. Every reply
//! [`Server::call`] gets is held to the served API description (`described.rs`).

use std::sync::Arc;
use std::time::Duration;

use cairn_server::http::LocalServer;
use cairn_server::node::Node;
use cairn_server::settings::Settings;
use cairn_store::EventStore;
use serde_json::{Value, json};

use super::described;

pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub node: Option<Node>,
    pub dir: tempfile::TempDir,
    server: Option<LocalServer>,
    /// The served `/openapi.json`, which every reply of [`Server::call`] is held to.
    description: Value,
}

impl Server {
    /// A server with `customers`, `bank_account` and `misbehaving` loaded and no API key.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    pub async fn start_with(api_key: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, api_key, &["customers", "bank_account", "misbehaving"]).await
    }

    pub async fn start_in(dir: tempfile::TempDir, api_key: Option<&str>, guests: &[&str]) -> Self {
        Self::start_configured(dir, api_key, guests, &Settings::default()).await
    }

    /// A server running with `settings`, as `cairn serve --config` gives them.
    pub async fn start_configured(
        dir: tempfile::TempDir,
        api_key: Option<&str>,
        guests: &[&str],
        settings: &Settings,
    ) -> Self {
        let node = Node::open(dir.path(), settings).await.expect("node opens");
        Self::serve(node, dir, api_key, guests).await
    }

    /// A server with `guests` whose store is `layer` over the real one (`Node::open_layered`).
    pub async fn start_layered(
        guests: &[&str],
        layer: impl FnOnce(Arc<dyn EventStore>) -> Arc<dyn EventStore>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let node = Node::open_layered(dir.path(), &Settings::default(), layer)
            .await
            .expect("node opens");
        Self::serve(node, dir, None, guests).await
    }

    /// Uploads `guests` to `node` and serves it on 127.0.0.1:0.
    async fn serve(
        node: Node,
        dir: tempfile::TempDir,
        api_key: Option<&str>,
        guests: &[&str],
    ) -> Self {
        for guest in guests {
            node.registry()
                .upload(guest, cairn_tests::guest(guest))
                .await
                .unwrap_or_else(|e| panic!("{guest} uploads: {e}"));
        }
        let server = LocalServer::start(&node, api_key.map(str::to_owned))
            .await
            .expect("serves");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let mut request = http.get(format!("{}/openapi.json", server.base()));
        if let Some(key) = api_key {
            request = request.bearer_auth(key);
        }
        let description = request
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("the API description");
        Self {
            base: server.base().to_owned(),
            http,
            node: Some(node),
            dir,
            server: Some(server),
            description,
        }
    }

    /// The server's store, to read or plant what the API does not show.
    pub fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(self.node.as_ref().expect("running").store())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and returns the status and the body as JSON (`Null` if it is not).
    /// Fails if the API description does not declare the status for the request's operation.
    pub async fn call(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let (client, request) = request.build_split();
        let request = request.expect("a request");
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let response = client.execute(request).await.expect("the server answers");
        let status = response.status().as_u16();
        described::assert_declared(&self.description, method.as_str(), &path, status);
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn append(&self, stream: &str, expected: Value, events: Value) -> (u16, Value) {
        self.post(
            &format!("/v1/streams/{stream}"),
            json!({"expected_version": expected, "events": events}),
        )
        .await
    }

    /// `PUT /v1/modules/{name}` with `bytes` as `content_type`.
    pub async fn put_module(&self, name: &str, bytes: Vec<u8>, content_type: &str) -> (u16, Value) {
        self.call(
            self.http
                .put(self.url(&format!("/v1/modules/{name}")))
                .header("content-type", content_type)
                .body(bytes),
        )
        .await
    }

    pub async fn command(&self, module: &str, id: &str, command: Value) -> (u16, Value) {
        self.post(&format!("/v1/aggregates/{module}/{id}/commands"), command)
            .await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Waits until `check` accepts the status of projection `name`, and returns it.
    pub async fn wait_for_projection(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_until(&format!("/v1/projections/{name}"), what, check)
            .await
    }

    /// Waits (at most a minute) until a GET of `path` answers 200 with a body `check` accepts,
    /// and returns the body.
    pub async fn wait_until(
        &self,
        path: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = self.get(path).await;
            if status == 200 && check(&body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path} never {what}: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Shuts down gracefully and closes the store; gives back the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("served cleanly");
        }
        if let Some(node) = self.node.take() {
            node.close().await;
        }
        self.dir
    }
}

/// Asserts an error reply: its status and stable code.
#[track_caller]
pub fn assert_error(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["error"], code, "{}", reply.1);
    assert!(
        reply.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error says what went wrong: {}",
        reply.1
    );
}
