//! `cairn dev`: the local dev server.
//!
//! It reads cairn.toml, opens an embedded store in `.cairn/` beside it, builds each module for
//! `wasm32-wasip2` and loads it, serves the API, and watches the modules' sources and
//! cairn.toml. When a source changes, only that module is rebuilt and swapped in; events are
//! kept. A build that fails is shown, and the version already loaded keeps serving. When
//! cairn.toml changes, modules new to it are built and loaded.
//!
//! - `reload.rs`: building a module and swapping it in, with what is printed.
//! - `watch.rs`: which modules changed on disk, and whether cairn.toml did.
//! - `follow.rs`: acting on those changes while the server runs.
//! - `project_change.rs`: what a new reading of cairn.toml changes.
//! - `faults.rs`: a projection's fault, said as a line a person reads.

mod faults;
mod follow;
mod project_change;
mod reload;
mod watch;

use std::sync::Arc;

use crate::cli::DevArgs;
use crate::http::{self, AppState};
use crate::node::Node;
use crate::project::Project;
use crate::serve::{bind, check_exposure, shutdown_signal};

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    check_exposure(args.listen, &args.key)?;
    let (project, settings) = Project::load_with_settings(&args.config)?;
    let data = project.root.join(".cairn");
    if args.clean && data.exists() {
        std::fs::remove_dir_all(&data)
            .map_err(|e| anyhow::anyhow!("cannot delete {}: {e}", data.display()))?;
        crate::serve::announce(format_args!("deleted the dev store {}", data.display()));
    }
    let target_dir = args
        .target_dir
        .clone()
        .unwrap_or_else(|| project.root.join("target").join("cairn-dev"));
    // The port first: a busy one is said at once, before any module is built.
    let listener = bind(args.listen).await?;
    let node = Node::open(&data, &settings).await?;
    let http_config = settings.http.clone();
    let reloader = Arc::new(reload::Reloader::new(
        Arc::clone(node.command_path()),
        target_dir,
    ));
    for module in &project.modules {
        reloader.reload(module).await;
    }
    let stop = shutdown_signal();
    let address = listener.local_addr()?;
    crate::serve::announce(format_args!(""));
    let serving = node.registry().list();
    let from_project = serving
        .iter()
        .filter(|m| project.modules.iter().any(|p| p.name == m.name.as_str()))
        .count();
    crate::serve::announce(format_args!(
        "cairn dev is serving {}",
        serving_count(serving.len(), from_project, &args.config)
    ));
    crate::serve::announce(format_args!("  data      {}", data.display()));
    crate::serve::announce(format_args!("  console   http://{address}/ui/"));
    crate::serve::announce(format_args!("  API       http://{address}"));
    crate::serve::announce(format_args!("  OpenAPI   http://{address}/openapi.json"));
    crate::serve::announce(format_args!("  metrics   http://{address}/metrics"));
    for module in serving {
        crate::serve::announce(format_args!(
            "  module    {} v{} (sha256 {})",
            module.name,
            module.version,
            module.hash.short()
        ));
    }
    for sink in node.sinks().list().await {
        crate::serve::announce(format_args!(
            "  sink      {} ({}) {}: {}",
            sink.name,
            sink.kind,
            crate::client::sink_target(&sink.config),
            sink.run.state
        ));
    }
    for group in node.groups().names() {
        crate::serve::announce(format_args!("  group     {group}"));
    }
    crate::serve::announce(format_args!(
        "watching the modules' sources and {}; Ctrl-C stops",
        args.config.display()
    ));
    let watcher = watch::Watcher::start(&project, &args.config)?;
    let watching = tokio::spawn(follow::follow(
        watcher,
        follow::Watched {
            file: args.config.clone(),
            project,
            settings,
        },
        reloader,
    ));
    let faults = tokio::spawn(faults::report(node.projections()));
    let state = AppState::new(&node, args.key.api_key);
    let served = http::serve_with(listener, state, http_config, stop).await;
    watching.abort();
    faults.abort();
    node.close().await;
    served?;
    crate::serve::announce(format_args!(
        "cairn dev stopped; the store is kept in {}",
        data.display()
    ));
    Ok(())
}

/// "4 modules", or "11 modules: 4 from cairn.toml and 7 kept in the dev store" when the store
/// keeps modules the project file does not list (deployed by hand, or since removed from it).
fn serving_count(total: usize, from_project: usize, config: &std::path::Path) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let kept = total - from_project;
    if kept == 0 {
        format!("{total} module{}", plural(total))
    } else {
        format!(
            "{total} module{}: {from_project} from {} and {kept} kept in the dev store",
            plural(total),
            config.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::serving_count;

    #[test]
    fn the_banner_counts_every_module_served_and_says_where_they_come_from() {
        let config = std::path::Path::new("cairn.toml");
        assert_eq!(serving_count(4, 4, config), "4 modules");
        assert_eq!(serving_count(1, 1, config), "1 module");
        assert_eq!(
            serving_count(11, 4, config),
            "11 modules: 4 from cairn.toml and 7 kept in the dev store"
        );
    }
}
