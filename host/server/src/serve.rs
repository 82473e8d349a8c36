//! `cairn serve`: the server on a data directory, until SIGINT or SIGTERM.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::cli::{KeyArgs, ServeArgs};
use crate::http::{self, AppState};
use crate::node::Node;
use crate::settings::Settings;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    check_exposure(args.listen, &args.key)?;
    let settings = match &args.config {
        Some(file) => Settings::load(file)?,
        None => Settings::default(),
    };
    let node = Node::open(&args.data, &settings).await?;
    let listener = bind(args.listen).await?;
    let address = listener.local_addr()?;
    announce(format_args!(
        "cairn is serving {} on http://{address}",
        args.data.display()
    ));
    let state = AppState::new(&node, args.key.api_key);
    http::serve(listener, state, shutdown_signal()).await?;
    node.close().await;
    announce(format_args!(
        "cairn stopped; every acknowledged write is on disk"
    ));
    Ok(())
}

/// Prints a line for the person running the server. A server outlives whoever reads its
/// output, so a closed stdout (a pipe whose reader went away) is ignored, not a crash, as
/// `println!` would make it.
pub(crate) fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Like [`announce`], on stderr: a problem the person should see.
pub(crate) fn complain(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Refuses to serve a non-loopback address with no API key, unless told `--insecure`.
pub fn check_exposure(listen: SocketAddr, key: &KeyArgs) -> anyhow::Result<()> {
    if key.api_key.is_none() && !listen.ip().is_loopback() && !key.insecure {
        anyhow::bail!(
            "refusing to listen on {listen} without an API key: anyone who can reach it could \
             write events and upload code. Set --api-key (or CAIRN_API_KEY), listen on \
             127.0.0.1, or pass --insecure if the network is yours alone"
        );
    }
    Ok(())
}

/// Binds `address`, saying what to do when it is taken.
pub async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {address}: {e}; is another cairn running? Choose another address \
             with --listen"
        )
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
