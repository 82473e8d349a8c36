//! `cairn streams`: the streams whose names begin with a prefix, or of a category, a page at a
//! time (`GET /v1/streams`), as the console's stream search lists them.

use reqwest::Method;

use crate::cli::StreamsArgs;
use crate::client::api::Api;

/// Lists streams by name.
pub async fn streams(args: StreamsArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client);
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(prefix) = &args.prefix {
        query.push(("prefix", prefix.clone()));
    }
    if let Some(category) = &args.category {
        query.push(("category", category.clone()));
    }
    if let Some(after) = &args.after {
        query.push(("after", after.clone()));
    }
    if let Some(before) = &args.before {
        query.push(("before", before.clone()));
    }
    if let Some(limit) = args.limit {
        query.push(("limit", limit.to_string()));
    }
    let reply = api
        .json(api.request(Method::GET, "/v1/streams").query(&query))
        .await?;
    if args.client.json {
        println!("{reply}");
        return Ok(());
    }
    let streams = reply["streams"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if streams.is_empty() {
        println!("no stream matches");
    }
    for stream in streams {
        println!(
            "{}  version {}",
            stream["stream"].as_str().unwrap_or_default(),
            stream["version"]
        );
    }
    if reply["more"] == true
        && let Some(last) = streams.last().and_then(|s| s["stream"].as_str())
    {
        let way = if args.before.is_some() {
            "--before"
        } else {
            "--after"
        };
        println!("more follow: page on with {way} {last}");
    }
    Ok(())
}
