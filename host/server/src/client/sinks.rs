//! `cairn sinks list|status|create|delete`.

use cairn_sinks::{SinkConfig, Target};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{SinksArgs, SinksCommand};
use crate::client::api::Api;
use crate::client::groups::start_of;

/// Where a sink publishes, in a few words.
pub fn sink_target(config: &SinkConfig) -> String {
    match config.target() {
        Target::Kafka(kafka) => format!("topic {} at {}", kafka.topic, kafka.brokers),
        Target::Webhook(webhook) => format!("POST {}", webhook.url),
    }
}

/// Lists, shows, makes and removes sinks.
pub async fn sinks(args: SinksArgs) -> anyhow::Result<()> {
    match args.command {
        SinksCommand::List { client } => {
            let api = Api::new(&client);
            let reply = api.json(api.request(Method::GET, "/v1/sinks")).await?;
            if client.json {
                println!("{reply}");
                return Ok(());
            }
            let list = reply["sinks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            if list.is_empty() {
                println!("no sinks; `cairn sinks create` or `[[sinks]]` in cairn.toml makes one");
            }
            for status in list {
                println!("{}", summary(status));
            }
        }
        SinksCommand::Status { name, client } => {
            let api = Api::new(&client);
            let status = api
                .json(api.request(Method::GET, &format!("/v1/sinks/{name}")))
                .await?;
            if client.json {
                println!("{status}");
                return Ok(());
            }
            println!("{}", summary(&status));
            if let Some(error) = status["last_error"].as_str() {
                println!("  last error: {error}");
            }
            println!(
                "  parked events: `cairn groups parked sink.{name}`; replay with `cairn groups replay sink.{name} --all`"
            );
        }
        SinksCommand::Create {
            name,
            kafka,
            topic,
            webhook,
            categories,
            types,
            start,
            client,
        } => {
            let mut body = json!({
                "name": name,
                "filter": {"categories": categories, "types": types},
                "start": start_of(&start)?,
            });
            match (kafka, webhook) {
                (Some(brokers), _) => body["kafka"] = json!({"brokers": brokers, "topic": topic}),
                (None, Some(url)) => body["webhook"] = json!({"url": url}),
                (None, None) => anyhow::bail!("give --kafka BROKERS --topic T, or --webhook URL"),
            }
            let api = Api::new(&client);
            let made = api
                .json(api.request(Method::POST, "/v1/sinks").json(&body))
                .await?;
            if client.json {
                println!("{made}");
            } else if made["created"] == true {
                println!(
                    "{name}: made; it runs the group {}",
                    made["group"].as_str().unwrap_or("?")
                );
            } else {
                println!("{name}: there already, with this config");
            }
        }
        SinksCommand::Delete { name, client } => {
            let api = Api::new(&client);
            api.send(api.request(Method::DELETE, &format!("/v1/sinks/{name}")))
                .await?;
            if !client.json {
                println!("{name}: removed, with its group");
            }
        }
    }
    Ok(())
}

/// A sink's status in one line.
fn summary(status: &Value) -> String {
    let target = serde_json::from_value::<SinkConfig>(status["config"].clone())
        .map(|config| sink_target(&config))
        .unwrap_or_default();
    let group = &status["group"];
    format!(
        "{} ({}) {}: {}, {} published, lag {}, {} parked{}",
        status["name"].as_str().unwrap_or("?"),
        status["kind"].as_str().unwrap_or("?"),
        target,
        status["state"].as_str().unwrap_or("?"),
        status["published"],
        group["lag"],
        group["parked"],
        if group["stalled"] == true {
            ", STALLED"
        } else {
            ""
        }
    )
}
