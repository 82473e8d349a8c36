//! `cairn reactors list|status|parked|retry|discard|reset`.

use reqwest::Method;
use serde_json::Value;

use crate::cli::{ClientArgs, ReactorsArgs, ReactorsCommand};
use crate::client::api::Api;
use crate::client::commands::encode;
use crate::client::print;

/// Lists the reactors, shows one or its parked events, or acts on them.
pub async fn reactors(args: ReactorsArgs) -> anyhow::Result<()> {
    match args.command {
        ReactorsCommand::List { client } => {
            let api = Api::new(&client);
            let reply = api.json(api.request(Method::GET, "/v1/reactors")).await?;
            if client.json {
                println!("{reply}");
                return Ok(());
            }
            let list = reply["reactors"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if list.is_empty() {
                println!("no reactors are loaded; `cairn deploy` uploads one");
            }
            for status in list {
                println!("{}", summary(status));
            }
        }
        ReactorsCommand::Status { name, client } => {
            let status = get(&client, &format!("/v1/reactors/{}", encode(&name))).await?;
            if client.json {
                println!("{status}");
                return Ok(());
            }
            println!("{}", summary(&status));
            println!(
                "  intents issued {}, executed {}; events skipped {}",
                status["intents_issued"], status["intents_executed"], status["skipped"]
            );
            if status["state"] == "faulted" {
                println!(
                    "  faulted at position {}: {}",
                    status["fault"]["position"],
                    status["fault"]["error"].as_str().unwrap_or("?")
                );
                println!("  upload a fixed version, or reset it, to start it again");
            }
            if let Some(error) = status["last_error"].as_str() {
                println!("  last error: {error}");
            }
            if status["stalled"] == true {
                println!("  STALLED: the head moves and the checkpoint does not");
            }
        }
        ReactorsCommand::Parked {
            name,
            after,
            limit,
            client,
        } => {
            let path = format!(
                "/v1/reactors/{}/parked?after={after}&limit={limit}",
                encode(&name)
            );
            let reply = get(&client, &path).await?;
            if client.json {
                println!("{reply}");
                return Ok(());
            }
            print::parked_page(&name, &reply, after, limit);
        }
        ReactorsCommand::Retry {
            name,
            position,
            all,
            client,
        } => {
            let path = match (position, all) {
                (Some(position), false) => {
                    format!("/v1/reactors/{}/parked/{position}/retry", encode(&name))
                }
                _ => format!("/v1/reactors/{}/parked/retry-all", encode(&name)),
            };
            let api = Api::new(&client);
            let report = api.json(api.request(Method::POST, &path)).await?;
            if client.json {
                println!("{report}");
                return Ok(());
            }
            println!("{name}: {} retried and done", report["succeeded"]);
            for failed in report["failed"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                println!(
                    "  position {} failed again and stays parked: {}",
                    failed["position"],
                    failed["error"].as_str().unwrap_or("?")
                );
            }
        }
        ReactorsCommand::Discard {
            name,
            position,
            client,
        } => {
            let api = Api::new(&client);
            let reply = api
                .json(api.request(
                    Method::DELETE,
                    &format!("/v1/reactors/{}/parked/{position}", encode(&name)),
                ))
                .await?;
            if client.json {
                println!("{reply}");
            } else {
                println!("{name}: the event parked at position {position} is discarded");
            }
        }
        ReactorsCommand::Reset { name, from, client } => {
            let api = Api::new(&client);
            let status = api
                .json(api.request(
                    Method::POST,
                    &format!("/v1/reactors/{}/reset?from={from}", encode(&name)),
                ))
                .await?;
            if client.json {
                println!("{status}");
            } else {
                println!(
                    "{name}: replaying from position {from} with an empty state; commands \
                     sent before are answered by their keys"
                );
            }
        }
    }
    Ok(())
}

async fn get(client: &ClientArgs, path: &str) -> anyhow::Result<Value> {
    let api = Api::new(client);
    api.json(api.request(Method::GET, path)).await
}

/// A reactor's status in one line.
fn summary(status: &Value) -> String {
    format!(
        "{} v{}: {} at {} of {} (lag {}), {} parked{}",
        status["name"].as_str().unwrap_or("?"),
        status["version"],
        status["state"].as_str().unwrap_or("?"),
        status["position"],
        status["head"],
        status["lag"],
        status["parked"],
        if status["stalled"] == true {
            ", STALLED"
        } else {
            ""
        }
    )
}
