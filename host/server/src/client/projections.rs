//! `cairn query` and `cairn projections list|status|pause|resume|reset`.

use reqwest::Method;
use serde_json::Value;

use crate::cli::{ProjectionsArgs, ProjectionsCommand, QueryArgs};
use crate::client::api::Api;
use crate::client::commands::encode;
use crate::client::print::pretty;

/// Asks a projection a question and prints the answer.
pub async fn query(args: QueryArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let request: Value = serde_json::from_str(&args.request).map_err(|e| {
        anyhow::anyhow!("the request is not JSON ({e}); write it like '{{\"type\": \"count\"}}'")
    })?;
    let answer = api
        .json(
            api.request(
                Method::POST,
                &format!("/v1/projections/{}/query", encode(&args.projection)),
            )
            .json(&request),
        )
        .await?;
    if args.client.json {
        println!("{answer}");
    } else {
        println!("{}", pretty(&answer));
    }
    Ok(())
}

/// Lists the projections, shows one, or pauses or resumes one.
pub async fn projections(args: ProjectionsArgs) -> anyhow::Result<()> {
    match args.command {
        ProjectionsCommand::Pause { name, client } => {
            switch(&name, "pause", &client).await?;
        }
        ProjectionsCommand::Resume { name, client } => {
            switch(&name, "resume", &client).await?;
        }
        ProjectionsCommand::Reset {
            name,
            no_wait,
            client,
        } => reset(&name, no_wait, &client).await?,
        ProjectionsCommand::List { client } => {
            let api = Api::new(&client);
            let reply = api
                .json(api.request(Method::GET, "/v1/projections"))
                .await?;
            if client.json {
                println!("{reply}");
                return Ok(());
            }
            let list = reply["projections"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if list.is_empty() {
                println!("no projections are loaded; `cairn deploy` uploads one");
            }
            for status in list {
                println!("{}", summary(status));
            }
        }
        ProjectionsCommand::Status { name, client } => {
            let api = Api::new(&client);
            let status = api
                .json(api.request(Method::GET, &format!("/v1/projections/{}", encode(&name))))
                .await?;
            if client.json {
                println!("{status}");
                return Ok(());
            }
            println!("{}", summary(&status));
            println!(
                "  read model {}, {} events/s in the last batch",
                status["model"].as_str().unwrap_or("?"),
                status["events_per_s"]
                    .as_f64()
                    .map_or("?".into(), |r| format!("{r:.0}"))
            );
            if let Some(fault) = status["fault"].as_object() {
                println!(
                    "  faulted at position {} ({}): {}",
                    fault.get("position").unwrap_or(&Value::Null),
                    fault
                        .get("event_type")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    fault.get("error").and_then(Value::as_str).unwrap_or("?"),
                );
                println!("  upload a fixed version: it rebuilds beside this one and takes over");
            }
            if status["rebuilding"].is_object() {
                println!("  rebuilding: {}", summary(&status["rebuilding"]));
            }
        }
    }
    Ok(())
}

/// Pauses or resumes projection `name`.
async fn switch(name: &str, action: &str, client: &crate::cli::ClientArgs) -> anyhow::Result<()> {
    let api = Api::new(client);
    let status = api
        .json(api.request(
            Method::POST,
            &format!("/v1/projections/{}/{action}", encode(name)),
        ))
        .await?;
    if client.json {
        println!("{status}");
    } else {
        let done = if action == "pause" {
            "paused"
        } else {
            "resumed"
        };
        println!("{name} {done} at position {}", status["position"]);
    }
    Ok(())
}

/// Starts a rebuild of `name`, then (unless `no_wait`) prints its progress until the new
/// generation serves.
async fn reset(name: &str, no_wait: bool, client: &crate::cli::ClientArgs) -> anyhow::Result<()> {
    let api = Api::new(client);
    let path = format!("/v1/projections/{}", encode(name));
    let started = api
        .json(api.request(Method::POST, &format!("{path}/reset")))
        .await?;
    let building = if started["rebuilding"].is_object() {
        &started["rebuilding"]
    } else {
        &started
    };
    let generation = building["generation"].as_u64().unwrap_or(0);
    if !client.json {
        println!(
            "{name}: rebuilding from position 0 as {}; {} keeps answering queries",
            building["model"].as_str().unwrap_or("?"),
            started["model"].as_str().unwrap_or("?"),
        );
    }
    if no_wait {
        if client.json {
            println!("{started}");
        }
        return Ok(());
    }
    let mut last_line = String::new();
    loop {
        let status = api.json(api.request(Method::GET, &path)).await?;
        let serving_new = status["generation"].as_u64() == Some(generation);
        let progress = if serving_new {
            &status
        } else if status["rebuilding"]["generation"].as_u64() == Some(generation) {
            &status["rebuilding"]
        } else {
            anyhow::bail!("the rebuild was replaced (another reset or a new version)");
        };
        if progress["state"] == "faulted" {
            anyhow::bail!(
                "the rebuild faulted at position {}: {}",
                progress["fault"]["position"],
                progress["fault"]["error"].as_str().unwrap_or("?")
            );
        }
        if progress["state"] == "paused" {
            anyhow::bail!(
                "{name} is paused; `cairn projections resume {name}` lets the rebuild go on"
            );
        }
        let done = serving_new && status["state"] == "live";
        if !client.json {
            let line = progress_line(name, progress);
            if line != last_line {
                println!("  {line}");
                last_line = line;
            }
        }
        if done {
            if client.json {
                println!("{status}");
            } else {
                println!("{name}: the rebuilt read model serves");
            }
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// A rebuild's progress in one line, in one format whichever generation reports it: the
/// serving one (whose status carries its name) or the one being rebuilt (whose does not).
fn progress_line(name: &str, progress: &Value) -> String {
    format!("{name} {}", generation_summary(progress))
}

/// One line: name (if any), then [`generation_summary`].
fn summary(status: &Value) -> String {
    format!(
        "{}{}",
        status["name"]
            .as_str()
            .map(|n| format!("{n} "))
            .unwrap_or_default(),
        generation_summary(status)
    )
}

/// One generation in a line: version, state, position of head, lag, and progress.
fn generation_summary(status: &Value) -> String {
    let position = status["position"].as_u64().unwrap_or(0);
    let head = status["head"].as_u64().unwrap_or(0);
    let progress = if head == 0 {
        100.0
    } else {
        position as f64 * 100.0 / head as f64
    };
    format!(
        "v{} {} at {position} of {head} ({progress:.1}%), lag {} events, {} ms",
        status["version"],
        status["state"].as_str().unwrap_or("?"),
        status["lag_events"],
        status["lag_ms"],
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_rebuilds_progress_reads_the_same_from_either_generation() {
        let generation = json!({"version": 2, "state": "catching_up", "position": 5, "head": 10,
            "lag_events": 5, "lag_ms": 0});
        let mut serving = generation.clone();
        serving["name"] = json!("directory");
        assert_eq!(
            progress_line("directory", &generation),
            progress_line("directory", &serving)
        );
        assert_eq!(
            progress_line("directory", &generation),
            "directory v2 catching_up at 5 of 10 (50.0%), lag 5 events, 0 ms"
        );
    }
}
