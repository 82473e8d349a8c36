//! `cairn serve`: the server on a data directory, until SIGINT or SIGTERM.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::cli::{KeyArgs, ServeArgs};
use crate::http::{self, AppState};
use crate::node::Node;
use crate::settings::{Settings, StoreConfig};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    check_exposure(args.listen, &args.key)?;
    let mut settings = match &args.config {
        Some(file) => Settings::load(file)?,
        None => Settings::default(),
    };
    if let Some(url) = args.store {
        settings.store = StoreConfig { url: Some(url) };
        settings
            .store
            .check()
            .map_err(|e| anyhow::anyhow!("--store: {e}"))?;
    }
    let node = Node::open(&args.data, &settings).await?;
    let listener = bind(args.listen).await?;
    let stop = shutdown_signal();
    let address = listener.local_addr()?;
    announce(format_args!(
        "cairn is serving {} on http://{address}",
        node.describe_store()
    ));
    announce(format_args!("  console   http://{address}/ui/"));
    let state = AppState::new(&node, args.key.api_key);
    http::serve_with(listener, state, settings.http, stop).await?;
    node.close().await;
    announce(format_args!(
        "cairn stopped; every acknowledged write is stored"
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

/// Refuses a blank API key, and to serve a non-loopback address with no API key unless told
/// `--insecure`.
pub fn check_exposure(listen: SocketAddr, key: &KeyArgs) -> anyhow::Result<()> {
    if key.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        anyhow::bail!(
            "the API key is blank: --api-key (or CAIRN_API_KEY) must be a secret of visible \
             characters. Set one, or leave both out to serve without a key on 127.0.0.1"
        );
    }
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

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a signal that comes after "cairn is serving" is printed but
/// before the server's loop starts must still shut it down cleanly, not kill it outright.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let wait = |installed: std::io::Result<tokio::signal::unix::Signal>| async move {
                match installed {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(api_key: Option<&str>) -> KeyArgs {
        KeyArgs {
            api_key: api_key.map(str::to_owned),
            insecure: false,
        }
    }

    #[test]
    fn refuses_a_blank_api_key() {
        let local: SocketAddr = "127.0.0.1:7700".parse().expect("address");
        for blank in ["", " ", "\t \n"] {
            let err = check_exposure(local, &key(Some(blank))).expect_err("blank");
            assert!(err.to_string().contains("the API key is blank"), "{err}");
        }
        assert!(check_exposure(local, &key(Some("k"))).is_ok());
        assert!(check_exposure(local, &key(None)).is_ok());
    }
}
