//! `cairn deploy`, `undeploy`, `send`, `read`, `tail` and `state`.

use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use crate::cli::{DeployArgs, ReadArgs, SendArgs, StateArgs, TailArgs, UndeployArgs};
use crate::client::api::Api;
use crate::client::print::{event_line, pretty};
use crate::client::sse::SseReader;
use crate::guests;
use crate::project::Project;

/// Uploads a component, or builds and uploads every module of a cairn.toml; with `--plan`,
/// plans them instead (`plan.rs`).
pub async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let is_toml = args.path.extension().is_some_and(|e| e == "toml");
    let modules: Vec<(String, Vec<u8>)> = if is_toml {
        anyhow::ensure!(
            args.name.is_none(),
            "--name is for one .wasm file; a cairn.toml names its modules"
        );
        anyhow::ensure!(
            args.from.is_none(),
            "--from is for one reactor's .wasm file, not for every module of a cairn.toml"
        );
        let project = Project::load(&args.path)?;
        let target_dir = project.root.join("target").join("cairn-dev");
        let mut built = Vec::new();
        for module in &project.modules {
            eprintln!("building {} ({})", module.name, module.dir.display());
            let bytes =
                tokio::task::block_in_place(|| guests::build_module(&module.dir, &target_dir))
                    .map_err(|e| anyhow::anyhow!("module {}: {e}", module.name))?;
            built.push((module.name.clone(), bytes));
        }
        built
    } else {
        let bytes = std::fs::read(&args.path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.path.display()))?;
        let name = match args.name {
            Some(name) => name,
            None => name_of(&args.path)?,
        };
        vec![(name, bytes)]
    };
    if args.plan {
        let queries = super::plan::queries_file(args.queries.as_deref())?;
        let mut changed = Vec::new();
        for (name, bytes) in modules {
            let options = super::plan::PlanArgs {
                sample: args.sample,
                queries: queries.get(&name),
                json: args.client.json,
            };
            if super::plan::plan(&api, &name, bytes, options).await? {
                changed.push(name);
            }
        }
        anyhow::ensure!(
            changed.is_empty() || args.accept_changes,
            "the plan found changes in {}: nothing was deployed (--accept-changes exits \
             zero on them)",
            changed.join(", ")
        );
        return Ok(());
    }
    for (name, bytes) in modules {
        let mut path = format!("/v1/modules/{}", encode(&name));
        if let Some(from) = args.from {
            path.push_str(&format!("?from={from}"));
        }
        let reply = api
            .json(
                api.request(Method::PUT, &path)
                    .header("content-type", "application/wasm")
                    .body(bytes),
            )
            .await
            .map_err(|e| e.context(format!("uploading {name}")))?;
        if args.client.json {
            println!("{reply}");
        } else {
            println!(
                "{} {} version {} (sha256 {})",
                reply["name"].as_str().unwrap_or(&name),
                reply["kind"].as_str().unwrap_or("module"),
                reply["version"],
                reply["hash"]
                    .as_str()
                    .unwrap_or("?")
                    .get(..12)
                    .unwrap_or("?"),
            );
        }
    }
    Ok(())
}

/// Removes a module and says what went with it.
pub async fn undeploy(args: UndeployArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let reply = api
        .json(api.request(
            Method::DELETE,
            &format!("/v1/modules/{}", encode(&args.name)),
        ))
        .await
        .map_err(|e| e.context(format!("removing {}", args.name)))?;
    if args.client.json {
        println!("{reply}");
    } else {
        println!("{}", reply["message"].as_str().unwrap_or("removed"));
        if let Some(models) = reply["read_models_dropped"]
            .as_array()
            .filter(|m| !m.is_empty())
        {
            let names: Vec<&str> = models.iter().filter_map(Value::as_str).collect();
            println!("dropped read models: {}", names.join(", "));
        }
    }
    Ok(())
}

/// The command's text: `arg` itself, standard input for `-`, or a file's contents for `@FILE`.
fn command_text(arg: &str) -> anyhow::Result<String> {
    use std::io::Read;
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| anyhow::anyhow!("cannot read the command from standard input: {e}"))?;
        Ok(text)
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the command from {path}: {e}"))
    } else {
        Ok(arg.to_owned())
    }
}

/// A module name from a file name: `customers.wasm` and `bank_account.wasm` give `customers`
/// and `bank_account`.
fn name_of(path: &Path) -> anyhow::Result<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            anyhow::anyhow!("cannot name a module after {}; pass --name", path.display())
        })
}

/// Sends a command.
pub async fn send(args: SendArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let text = command_text(&args.command)?;
    let command: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "the command is not JSON ({e}); write it like \
             '{{\"type\": \"Deposit\", \"data\": {{\"amount\": 100}}}}'"
        )
    })?;
    let mut path = format!(
        "/v1/aggregates/{}/{}/commands",
        encode(&args.aggregate),
        encode(&args.id)
    );
    if let Some(version) = args.expected_version {
        path.push_str(&format!("?expected_version={version}"));
    }
    let mut request = api.request(Method::POST, &path).json(&command);
    if let Some(key) = &args.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let reply = api.json(request).await?;
    if args.client.json {
        println!("{reply}");
        return Ok(());
    }
    let events = reply["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    println!(
        "{} is at version {} ({} new event{})",
        reply["stream"].as_str().unwrap_or("?"),
        reply["version"],
        events.len(),
        if events.len() == 1 { "" } else { "s" }
    );
    for event in events {
        println!("  {}", event_line(event, true));
    }
    Ok(())
}

/// Reads a stream.
pub async fn read(args: ReadArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(from) = args.from {
        query.push(("from", from.to_string()));
    }
    if let Some(limit) = args.limit {
        query.push(("limit", limit.to_string()));
    }
    if args.backward {
        query.push(("direction", "backward".into()));
    }
    if args.raw {
        query.push(("raw", "true".into()));
    }
    let reply = api
        .json(
            api.request(
                Method::GET,
                &format!("/v1/streams/{}", encode(&args.stream)),
            )
            .query(&query),
        )
        .await?;
    if args.client.json {
        println!("{reply}");
        return Ok(());
    }
    let events = reply["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    println!(
        "{} is at version {}",
        reply["stream"].as_str().unwrap_or(&args.stream),
        reply["version"]
    );
    for event in events {
        println!("{}", event_line(event, true));
    }
    Ok(())
}

/// Shows an aggregate's state.
pub async fn state(args: StateArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let mut path = format!(
        "/v1/aggregates/{}/{}",
        encode(&args.aggregate),
        encode(&args.id)
    );
    if let Some(at) = args.at {
        let module = if args.current { "current" } else { "recorded" };
        path.push_str(&format!("?at={at}&module={module}"));
    }
    let reply = api.json(api.request(Method::GET, &path)).await?;
    if args.client.json {
        println!("{reply}");
    } else if args.at.is_some() {
        println!(
            "{} at version {}\n{}",
            reply["stream"].as_str().unwrap_or("?"),
            reply["version"],
            pretty(&reply["state"])
        );
    } else if reply["version"] == 0 {
        println!(
            "{} has no events yet (version 0); its state is the aggregate's initial one:\n{}",
            reply["stream"].as_str().unwrap_or("?"),
            pretty(&reply["state"])
        );
    } else {
        println!(
            "{} at version {}\n{}",
            reply["stream"].as_str().unwrap_or("?"),
            reply["version"],
            pretty(&reply["state"])
        );
    }
    Ok(())
}

/// Follows the global log over SSE, printing each event as it arrives.
pub async fn tail(args: TailArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let after = match args.after {
        Some(after) => after,
        None => {
            let health = api.json(api.request(Method::GET, "/healthz")).await?;
            health["head"].as_u64().unwrap_or(0)
        }
    };
    let mut query = vec![("after", after.to_string())];
    if let Some(category) = &args.category {
        query.push(("category", category.clone()));
    }
    if let Some(event_type) = &args.event_type {
        query.push(("type", event_type.clone()));
    }
    if args.raw {
        query.push(("raw", "true".into()));
    }
    let response = api
        .send(api.request(Method::GET, "/v1/subscribe").query(&query))
        .await?;
    if !args.client.json {
        eprintln!(
            "following {} after position {after} (Ctrl-C stops)",
            api.base()
        );
    }
    let mut messages = SseReader::new(response.bytes_stream());
    let mut seen = 0u64;
    while let Some(message) = messages.next().await? {
        if args.client.json {
            println!("{}", message.data);
        } else {
            let event: Value = serde_json::from_str(&message.data)?;
            println!("{}", event_line(&event, args.full));
        }
        seen += 1;
        if args.count.is_some_and(|count| seen >= count) {
            return Ok(());
        }
    }
    anyhow::bail!("the server closed the subscription (it may be shutting down)")
}

/// Percent-encodes a path segment.
pub(crate) fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
