//! `cairn history`: an aggregate's states over its stream, each step printed as the event that
//! made it and what that event changed in the state (`json_diff.rs`), not as two dumps.

use reqwest::Method;
use serde_json::Value;

use crate::cli::HistoryArgs;
use crate::client::api::Api;
use crate::client::commands::encode;
use crate::client::print::{event_line, pretty};
use cairn_runtime::json_diff::diff;

/// Prints the steps of `args`' range, paging through the history as the server gives it.
pub async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let base = format!(
        "/v1/aggregates/{}/{}",
        encode(&args.aggregate),
        encode(&args.id)
    );
    let module = if args.current { "current" } else { "recorded" };
    let (from, to) = match args.at {
        Some(at) => (at, Some(at)),
        None => (args.from.unwrap_or(1), args.to),
    };
    anyhow::ensure!(
        from >= 1,
        "versions start at 1; the state before them is --at 0 of `cairn state`"
    );
    // The state before the first step, to show what the first step changed.
    let before = api
        .json(api.request(
            Method::GET,
            &format!("{base}?at={}&module={module}", from - 1),
        ))
        .await?;
    let mut previous = before["state"].clone();
    let mut next = Some(from);
    let mut pages = Vec::new();
    while let Some(page_from) = next {
        let mut path = format!("{base}/history?from={page_from}&module={module}");
        if let Some(to) = to {
            path.push_str(&format!("&to={to}"));
        }
        let page = api.json(api.request(Method::GET, &path)).await?;
        next = page["next"]
            .as_u64()
            .filter(|n| to.is_none_or(|to| *n <= to));
        if page.get("failure").is_some() {
            next = None;
        }
        if args.client.json {
            pages.push(page);
            continue;
        }
        if page_from == from {
            print_heading(&page, module);
        }
        for step in page["steps"].as_array().into_iter().flatten() {
            print_step(step, &previous, args.full);
            previous = step["state"].clone();
        }
        if let Some(failure) = page.get("failure") {
            print_failure(failure);
        }
    }
    if args.client.json {
        println!("{}", Value::Array(pages));
    } else if args.at.is_some() {
        println!("\nthe state at version {from}:\n{}", pretty(&previous));
    }
    Ok(())
}

fn print_heading(page: &Value, module: &str) {
    let by = match module {
        "current" => "the installed module version",
        _ => "the module version that wrote its event",
    };
    println!(
        "{} is at version {}; each state computed by {by}",
        page["stream"].as_str().unwrap_or("?"),
        page["version"]
    );
}

/// One step: the event, then each change it made to the state.
fn print_step(step: &Value, previous: &Value, full: bool) {
    let hash = step["module_hash"].as_str().unwrap_or("?");
    println!(
        "{}  (module {})",
        event_line(&step["event"], full),
        &hash[..hash.len().min(12)]
    );
    let changes = diff(previous, &step["state"]);
    if changes.is_empty() {
        println!("    (the state did not change)");
    }
    for change in changes {
        println!("    {change}");
    }
}

fn print_failure(failure: &Value) {
    let hash = failure["module_hash"].as_str().unwrap_or("?");
    println!(
        "✗ version {} ({}): module {} could not go on: {}",
        failure["version"],
        failure["type"].as_str().unwrap_or("?"),
        &hash[..hash.len().min(12)],
        failure["error"].as_str().unwrap_or("?")
    );
}
