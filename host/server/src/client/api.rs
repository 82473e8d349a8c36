//! [`Api`]: a client of one server.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

use crate::cli::ClientArgs;

/// A server's URL and API key.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Api {
    pub fn new(args: &ClientArgs) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: server_url(&args.server),
            key: args.api_key.clone(),
        }
    }

    /// The server's URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (which starts with `/`), with the API key.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends `request`; a reply that is not a success becomes an error that says what the
    /// server said and what to do.
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["error"].as_str().unwrap_or("unknown");
        let message = body["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| status.to_string());
        let mut text = format!("{message} ({code}, HTTP {})", status.as_u16());
        if let Some(hint) = hint(code) {
            text.push_str("\nhint: ");
            text.push_str(hint);
        }
        Err(anyhow::anyhow!(text))
    }

    /// Sends `request` and reads a JSON reply.
    pub async fn json(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        let response = self.send(request).await?;
        Ok(response.json().await?)
    }

    fn unreachable(&self, error: &reqwest::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot reach the cairn server at {}: {error}\nhint: start one with `cairn dev` or \
             `cairn serve`, or point --server (or CAIRN_SERVER) at it",
            self.base
        )
    }
}

/// The server's URL as given, or with `http://` before it when it names no scheme
/// (`127.0.0.1:7700`, `localhost:7700`), and without a trailing `/`.
fn server_url(given: &str) -> String {
    let given = given.trim().trim_end_matches('/');
    if given.contains("://") {
        given.to_owned()
    } else {
        format!("http://{given}")
    }
}

/// What to do about an error, by its code.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "unauthorized" => "pass the server's key with --api-key or CAIRN_API_KEY",
        "unknown_module" => {
            "GET /v1/modules on the server lists what is loaded; `cairn deploy <file.wasm>` \
             uploads a module, and `cairn dev` loads those of cairn.toml"
        }
        "wrong_expected_version" => {
            "someone else wrote first: read the current version (`cairn state` or `cairn read`) and try again"
        }
        "invalid_command" => "check the command's type and data against the module's Command type",
        "invalid_body" | "malformed_json" => {
            "a command is JSON like {\"type\": \"Deposit\", \"data\": {\"amount\": 100}}"
        }
        "unknown_projection" => {
            "list them with `cairn projections list`; upload one with `cairn deploy`"
        }
        "wrong_world" | "core_module" | "invalid_module" | "bad_import" => {
            "build the module with the cairn SDK: `cargo build --release --target wasm32-wasip2`"
        }
        "not_a_reactor" => "--from gives where a reactor starts; deploy other modules without it",
        "name_taken" => {
            "a name keeps its kind: deploy this module under another name (a projection's name \
             is freed by `cairn undeploy NAME`; an aggregate's stays, since its events do)"
        }
        "module_exceeds_limits" => {
            "raise [limits] in the server's cairn.toml (`cairn serve --config`), or make the \
             module need less"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::server_url;

    #[test]
    fn a_server_without_a_scheme_is_taken_as_http() {
        assert_eq!(server_url("127.0.0.1:7700"), "http://127.0.0.1:7700");
        assert_eq!(server_url("localhost:7700/"), "http://localhost:7700");
        assert_eq!(
            server_url("http://127.0.0.1:7700/"),
            "http://127.0.0.1:7700"
        );
        assert_eq!(
            server_url("https://cairn.example.com"),
            "https://cairn.example.com"
        );
    }
}
