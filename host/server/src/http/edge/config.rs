//! [`HttpConfig`]: how the server treats connections — its timeouts, how many connections it
//! serves at once, the largest request head, and the grace period at shutdown. cairn.toml's
//! `[http]` section sets it (`settings.rs`); [`HttpConfig::default`] is what applies without it.

use std::time::Duration;

use cairn_runtime::setting::{self, InvalidSetting, at_least, number, within};
use serde::Deserialize;

/// File descriptors kept back from connections, out of the process's limit: for the store's
/// file, the listener, standard streams, the async runtime's own, the module cache, and the
/// connections that are accepted only to be answered 503 or to take an evicted one's place.
pub const FD_RESERVE: u64 = 32;

/// The timeouts and caps of the HTTP edge (the `[http]` section of cairn.toml: each timeout
/// as `{field}_ms`, the rest as the fields).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A request's head (request line and headers) must arrive whole within this time of its
    /// first byte, or of the connection opening.
    #[serde(
        rename = "header_timeout_ms",
        deserialize_with = "setting::millis::deserialize"
    )]
    pub header_timeout: Duration,
    /// A request's body must arrive whole within this time of its head; past it the request is
    /// answered 408 `body_timeout` and the connection closed.
    #[serde(
        rename = "body_timeout_ms",
        deserialize_with = "setting::millis::deserialize"
    )]
    pub body_timeout: Duration,
    /// A keep-alive connection with no request in progress is closed after this long.
    #[serde(
        rename = "idle_timeout_ms",
        deserialize_with = "setting::millis::deserialize"
    )]
    pub idle_timeout: Duration,
    /// A client that takes none of what is sent to it for this long (its socket's send buffer
    /// stays full) is disconnected. Subscriptions included.
    #[serde(
        rename = "write_stall_timeout_ms",
        deserialize_with = "setting::millis::deserialize"
    )]
    pub write_stall_timeout: Duration,
    /// At shutdown, requests in flight have this long to finish before their connections are
    /// closed. Subscriptions are closed at once.
    #[serde(
        rename = "shutdown_grace_ms",
        deserialize_with = "setting::millis::deserialize"
    )]
    pub shutdown_grace: Duration,
    /// The most connections served at once; `None` for the file-descriptor limit less
    /// [`FD_RESERVE`]. A value above that is lowered to it.
    pub max_connections: Option<u64>,
    /// The longest request target (path and query); a longer one is a 414 `uri_too_long`.
    pub max_uri_bytes: usize,
    /// The most bytes of header fields (names, values, and 4 per field for `: ` and CRLF); more
    /// is a 431 `headers_too_large`.
    pub max_header_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            write_stall_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            max_connections: None,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// The largest `max_uri_bytes` accepted: well under what hyper itself refuses (64 KiB), so the
/// reply to a long target is always cairn's 414 with its JSON body.
pub const MAX_URI_BYTES_LIMIT: u64 = 32 * 1024;

/// The largest `max_header_bytes` accepted: with the longest target, still under the read
/// buffer hyper parses a head in (about 400 KiB), past which hyper answers a bare 431.
pub const MAX_HEADER_BYTES_LIMIT: u64 = 256 * 1024;

impl HttpConfig {
    /// Refuses a value the edge cannot run with, naming its key.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        for (key, timeout) in [
            ("header_timeout_ms", self.header_timeout),
            ("body_timeout_ms", self.body_timeout),
            ("idle_timeout_ms", self.idle_timeout),
            ("write_stall_timeout_ms", self.write_stall_timeout),
        ] {
            at_least(key, number(timeout.as_millis()), 1)?;
        }
        if let Some(max) = self.max_connections {
            at_least("max_connections", max, 1)?;
        }
        within(
            "max_uri_bytes",
            number(self.max_uri_bytes),
            64..=MAX_URI_BYTES_LIMIT,
        )?;
        within(
            "max_header_bytes",
            number(self.max_header_bytes),
            1_024..=MAX_HEADER_BYTES_LIMIT,
        )
    }

    /// How many connections to serve at once under a file-descriptor limit of `fd_limit`
    /// (`None`: unlimited).
    pub fn connection_cap(&self, fd_limit: Option<u64>) -> u64 {
        let by_fds = fd_limit.map_or(u64::MAX, |limit| limit.saturating_sub(FD_RESERVE).max(1));
        let wanted = self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        wanted.min(by_fds)
    }
}

/// The cap when neither cairn.toml nor the file-descriptor limit sets a lower one.
const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;

/// The process's file-descriptor limit (the soft `RLIMIT_NOFILE`), where it can be read.
pub fn fd_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let default = HttpConfig::default();
        assert_eq!(default.connection_cap(Some(64)), 64 - FD_RESERVE);
        assert_eq!(default.connection_cap(Some(1_048_576)), 10_000);
        assert_eq!(default.connection_cap(None), 10_000);
        assert_eq!(default.connection_cap(Some(10)), 1, "always at least one");
        let configured = HttpConfig {
            max_connections: Some(8),
            ..HttpConfig::default()
        };
        assert_eq!(configured.connection_cap(Some(64)), 8);
        let too_many = HttpConfig {
            max_connections: Some(1_000),
            ..HttpConfig::default()
        };
        assert_eq!(too_many.connection_cap(Some(64)), 32);
    }
}
