//! `cairn stats`: what the console's overview shows, as lines (`GET /v1/stats` and
//! `GET /v1/projections`).

use reqwest::Method;

use crate::cli::StatsArgs;
use crate::client::api::Api;

/// Prints the server's version, head, store size, command count, latest rates and projections.
pub async fn stats(args: StatsArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let stats = api.json(api.request(Method::GET, "/v1/stats")).await?;
    let projections = api
        .json(api.request(Method::GET, "/v1/projections"))
        .await?;
    if args.client.json {
        println!(
            "{}",
            serde_json::json!({"stats": stats, "projections": projections["projections"]})
        );
        return Ok(());
    }
    println!("cairn {}", stats["version"].as_str().unwrap_or("?"));
    println!("  head          {}", stats["head"]);
    let bytes = stats["store_bytes"].as_f64().unwrap_or(0.0);
    println!("  store         {:.1} MiB", bytes / (1024.0 * 1024.0));
    println!("  commands      {} since start", stats["commands"]);
    if let Some(rate) = stats["rates"].as_array().and_then(|r| r.last()) {
        println!(
            "  last 5 s      {:.1} events/s, {:.1} commands/s",
            rate["events_per_s"].as_f64().unwrap_or(0.0),
            rate["commands_per_s"].as_f64().unwrap_or(0.0)
        );
    }
    for p in projections["projections"].as_array().into_iter().flatten() {
        println!(
            "  projection    {} {} at {} of {}",
            p["name"].as_str().unwrap_or("?"),
            p["state"].as_str().unwrap_or("?"),
            p["position"],
            p["head"]
        );
    }
    Ok(())
}
