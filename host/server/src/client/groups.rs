//! `cairn groups list|status|create|delete|parked|replay|discard|reset|resume`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{ClientArgs, GroupsArgs, GroupsCommand, ParkedSelection};
use crate::client::api::Api;
use crate::client::print;

/// Makes, lists and inspects consumer groups, and acts on their parked events.
pub async fn groups(args: GroupsArgs) -> anyhow::Result<()> {
    match args.command {
        GroupsCommand::List { client } => {
            let reply = call(&client, Method::GET, "/v1/groups", None).await?;
            if client.json {
                println!("{reply}");
                return Ok(());
            }
            let list = reply["groups"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            if list.is_empty() {
                println!("no groups; `cairn groups create NAME` makes one");
            }
            for status in list {
                println!("{}", summary(status));
            }
        }
        GroupsCommand::Status { name, client } => {
            let status = call(&client, Method::GET, &format!("/v1/groups/{name}"), None).await?;
            if client.json {
                println!("{status}");
                return Ok(());
            }
            println!("{}", summary(&status));
            let counts = &status["counts"];
            println!(
                "  delivered {}, acked {}, retried {}, parked {}, skipped {}, leases run out {}",
                counts["delivered"],
                counts["acked"],
                counts["retried"],
                counts["parked"],
                counts["skipped"],
                counts["expired"]
            );
            if let Some(age) = status["oldest_parked_age_ms"].as_u64() {
                println!(
                    "  oldest parked event parked {:.1} s ago",
                    age as f64 / 1000.0
                );
            }
            for member in status["members"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                println!(
                    "  member {} ({}): {} in flight, {} ready",
                    member["member"].as_str().unwrap_or("?"),
                    member["kind"].as_str().unwrap_or("?"),
                    member["in_flight"],
                    member["ready"]
                );
            }
            if let Some(stopped) = status["stopped"].as_object() {
                println!(
                    "  STOPPED at position {}: {}; `cairn groups resume {name}` goes on",
                    stopped["position"],
                    stopped["reason"].as_str().unwrap_or("?")
                );
            }
            if status["stalled"] == true {
                println!("  STALLED: the head moves and the checkpoint does not");
            }
        }
        GroupsCommand::Create {
            name,
            categories,
            types,
            start,
            start_time,
            key,
            ack_timeout_ms,
            max_retries,
            on_exhausted,
            client,
        } => {
            let mut body = json!({
                "name": name,
                "filter": {"categories": categories, "types": types},
                "start": match start_time {
                    Some(at) => json!({"time": at}),
                    None => start_of(&start)?,
                },
                "partition_key": match key.split_once(':') {
                    Some(("metadata", field)) => json!({"metadata": field}),
                    _ => json!(key),
                },
            });
            for (field, value) in [
                ("ack_timeout_ms", ack_timeout_ms.map(Value::from)),
                ("max_retries", max_retries.map(Value::from)),
                ("on_exhausted", on_exhausted.map(Value::from)),
            ] {
                if let Some(value) = value {
                    body[field] = value;
                }
            }
            let made = call(&client, Method::POST, "/v1/groups", Some(body)).await?;
            if client.json {
                println!("{made}");
            } else if made["created"] == true {
                println!(
                    "{name}: made, starting after position {}",
                    made["start_after"]
                );
            } else {
                println!("{name}: there already, with this config");
            }
        }
        GroupsCommand::Delete { name, client } => {
            let api = Api::new(&client);
            api.send(api.request(Method::DELETE, &format!("/v1/groups/{name}")))
                .await?;
            if !client.json {
                println!("{name}: removed");
            }
        }
        GroupsCommand::Parked {
            name,
            after,
            limit,
            client,
        } => {
            let path = format!("/v1/groups/{name}/parked?after={after}&limit={limit}");
            let reply = call(&client, Method::GET, &path, None).await?;
            if client.json {
                println!("{reply}");
                return Ok(());
            }
            print::parked_page(&name, &reply, after, limit);
        }
        GroupsCommand::Replay {
            name,
            selection,
            client,
        } => {
            let path = format!("/v1/groups/{name}/parked/replay");
            let reply = call(&client, Method::POST, &path, Some(body_of(selection))).await?;
            if client.json {
                println!("{reply}");
            } else {
                println!(
                    "{name}: {} parked events released to be delivered once more",
                    reply["count"]
                );
            }
        }
        GroupsCommand::Discard {
            name,
            selection,
            client,
        } => {
            let path = format!("/v1/groups/{name}/parked/discard");
            let reply = call(&client, Method::POST, &path, Some(body_of(selection))).await?;
            if client.json {
                println!("{reply}");
            } else {
                println!("{name}: {} parked events discarded", reply["count"]);
            }
        }
        GroupsCommand::Reset {
            name,
            to,
            time,
            client,
        } => {
            let start = match (to, time) {
                (_, Some(at)) => json!({"time": at}),
                (Some(to), None) => start_of(&to)?,
                (None, None) => anyhow::bail!("give --to or --time"),
            };
            let path = format!("/v1/groups/{name}/reset");
            let reply = call(&client, Method::POST, &path, Some(json!({"start": start}))).await?;
            if client.json {
                println!("{reply}");
            } else {
                println!(
                    "{name}: starts again after position {}",
                    reply["start_after"]
                );
            }
        }
        GroupsCommand::Resume { name, client } => {
            let path = format!("/v1/groups/{name}/resume");
            let reply = call(&client, Method::POST, &path, None).await?;
            if client.json {
                println!("{reply}");
            } else if reply["resumed"] == true {
                println!("{name}: resumed");
            } else {
                println!("{name}: was not stopped");
            }
        }
    }
    Ok(())
}

async fn call(
    client: &ClientArgs,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let api = Api::new(client);
    let mut request = api.request(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    api.json(request).await
}

/// `begin`, `end` or a position, as the API's `start`.
pub(crate) fn start_of(text: &str) -> anyhow::Result<Value> {
    match text {
        "begin" | "end" => Ok(json!(text)),
        position => match position.parse::<u64>() {
            Ok(position) => Ok(json!({"position": position})),
            Err(_) => anyhow::bail!("{text:?}: give `begin`, `end` or a position"),
        },
    }
}

fn body_of(selection: ParkedSelection) -> Value {
    match (selection.first, selection.all) {
        (_, true) => json!({"all": true}),
        (Some(n), false) => json!({"limit": n}),
        (None, false) => json!({"positions": selection.positions}),
    }
}

/// A group's status in one line.
fn summary(status: &Value) -> String {
    format!(
        "{}: {} at {} of {} (lag {}), {} in flight, {} parked, {} members{}",
        status["name"].as_str().unwrap_or("?"),
        status["state"].as_str().unwrap_or("?"),
        status["checkpoint"],
        status["head"],
        status["lag"],
        status["in_flight"],
        status["parked"],
        status["members"].as_array().map_or(0, Vec::len),
        if status["stalled"] == true {
            ", STALLED"
        } else {
            ""
        }
    )
}
