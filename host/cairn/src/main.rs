//! The `cairn` binary: parses the command line and runs the command. Everything else is in
//! the libraries it links: `cairn-server` (`host/server`) for serving, the dev loop, the
//! client commands and `verify`; `cairn-bench` (`host/bench`) for `cairn bench`.
//!
//! Its tests (`tests/`) run this binary as a user would: killed mid-write, shut down with
//! requests in flight, fed damaged files, raced for linearizability.

use std::io::IsTerminal;

use cairn_server::cli::{Cli, Command};

use clap::Parser;

// The server allocates many small, short-lived buffers per request on few cores; mimalloc
// keeps them per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let command = Cli::parse().into_command();
    let huge_pages = disable_transparent_huge_pages();
    let default_filter = match command {
        Command::Serve(_) => "info,wasmtime=warn,cranelift=warn",
        // `cairn dev` says what it loads and what faults in lines of its own; the registry's
        // and the runner's log lines would say each twice.
        Command::Dev(_) => {
            "info,wasmtime=warn,cranelift=warn,cairn_runtime::registry=warn,\
             cairn_runtime::projections::runner::status=error"
        }
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never in a file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        // A write to a closed stderr would otherwise be reported with `eprintln!`, which
        // panics on that same closed stderr: a server outlives whoever reads its output.
        .log_internal_errors(false)
        .init();
    if let Err(e) = huge_pages {
        tracing::debug!(error = %e, "transparent huge pages stay enabled for this process");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Serve(args) => cairn_server::serve::run(args).await,
            Command::Dev(args) => cairn_server::dev::run(args).await,
            Command::Deploy(args) => cairn_server::client::deploy(args).await,
            Command::Undeploy(args) => cairn_server::client::undeploy(args).await,
            Command::Send(args) => cairn_server::client::send(args).await,
            Command::Read(args) => cairn_server::client::read(args).await,
            Command::Streams(args) => cairn_server::client::streams(args).await,
            Command::Stats(args) => cairn_server::client::stats(args).await,
            Command::Tail(args) => cairn_server::client::tail(args).await,
            Command::State(args) => cairn_server::client::state(args).await,
            Command::History(args) => cairn_server::client::history(args).await,
            Command::Query(args) => cairn_server::client::query(args).await,
            Command::Projections(args) => cairn_server::client::projections(args).await,
            Command::Reactors(args) => cairn_server::client::reactors(args).await,
            Command::Groups(args) => cairn_server::client::groups(args).await,
            Command::Sinks(args) => cairn_server::client::sinks(args).await,
            Command::Bench(args) => cairn_bench::run(args).await,
            Command::Verify(args) => cairn_server::verify::run(args).await,
            Command::Backup(args) => cairn_server::client::backup(args).await,
            Command::Restore(args) => cairn_server::restore::run(args).await,
            Command::Migrate(args) => cairn_server::migrate::run(args).await,
            Command::New(args) => cairn_server::new::run(args),
            Command::Completions(args) => cairn_server::completions::run(args),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process, as Redis does. With them on,
/// the first touch of fresh heap memory can stop the touching thread for milliseconds while
/// the kernel (and, in a virtual machine, the host under it) supplies and clears 2 MiB at once.
/// When that thread is the store's writer, every append waiting on the group commit waits with
/// it: on a 2-core VM this made 3 to 7 commits in each `cairn bench commands` run take 6 ms on
/// the CPU instead of 0.7. Pages of 4 KiB cost a little more in the TLB and never stall that
/// long.
#[cfg(target_os = "linux")]
fn disable_transparent_huge_pages() -> std::io::Result<()> {
    rustix::thread::disable_transparent_huge_pages(true).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn disable_transparent_huge_pages() -> std::io::Result<()> {
    Ok(())
}
