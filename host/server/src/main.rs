//! The `cairn` binary: parses the command line and runs the command. Everything else is in the
//! library (`lib.rs`).

use cairn::cli::{Cli, Command};
use clap::Parser;

// The server allocates many small, short-lived buffers per request on few cores; mimalloc
// keeps them per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Serve(_) | Command::Dev(_) => "info,wasmtime=warn,cranelift=warn",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
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
        match cli.command {
            Command::Serve(args) => cairn::serve::run(args).await,
            Command::Dev(args) => cairn::dev::run(args).await,
            Command::Deploy(args) => cairn::client::deploy(args).await,
            Command::Send(args) => cairn::client::send(args).await,
            Command::Read(args) => cairn::client::read(args).await,
            Command::Tail(args) => cairn::client::tail(args).await,
            Command::State(args) => cairn::client::state(args).await,
            Command::Query(args) => cairn::client::query(args).await,
            Command::Projections(args) => cairn::client::projections(args).await,
            Command::Bench(args) => cairn::bench::run(args).await,
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
