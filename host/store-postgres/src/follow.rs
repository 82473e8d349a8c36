//! Following the head of the log across nodes. Every append notifies channel `cairn_head`
//! with its new head in its transaction, so PostgreSQL delivers the news at commit to every
//! node listening; each node's follower publishes it to the node's [`HeadWatch`]ers
//! (`cairn_store::HeadSender` only moves on). A follower also reads the head each
//! [`POLL_EVERY`], so a lost notification or a broken listening connection delays a waiter by
//! at most that long; it connects again after a failure. While it cannot reach the database,
//! the store's health says so ([`Link`]), so a node reports itself unhealthy within about
//! [`POLL_EVERY`] of losing PostgreSQL, not only once a write fails. This node's own appends publish
//! their head at once, without waiting for the notification.
//!
//! Changes of modules (a put, a state, a removal) notify channel `cairn_modules` the same way,
//! and the follower moves the store's watch of modules on each, and on each new connection,
//! since what changed while it listened to nothing is unknown.
//!
//! [`HeadWatch`]: cairn_store::HeadWatch

use std::sync::Arc;
use std::time::Duration;

use cairn_store::{HeadSender, Position};
use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel appends notify.
pub(crate) const CHANNEL: &str = "cairn_head";
/// The channel changes of modules notify, with the module's name.
pub(crate) const MODULES_CHANNEL: &str = "cairn_modules";
/// How often a follower reads the head, whatever it heard.
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(1);

/// How long a follower's read of the head may take before the link counts as broken.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Follows the head of the database at `config` into `head` until aborted. While it cannot
/// reach the database, `link` says why (the node's health reports it); once a read of the head
/// succeeds again it is cleared.
pub(crate) async fn follow(
    config: tokio_postgres::Config,
    head: Arc<HeadSender>,
    link: Link,
    modules: ModuleChanges,
) {
    loop {
        if let Err(error) = listen(&config, &head, &link, &modules).await {
            tracing::warn!(%error, "following the log's head on PostgreSQL failed; connecting again");
            link.set(Some(format!("no connection to PostgreSQL: {error}")));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The node's link to the database, as its health reports it: why the last append failed
/// (until one commits), and why the follower cannot reach the database (until it can).
#[derive(Clone, Debug, Default)]
pub(crate) struct Link(Arc<std::sync::Mutex<LinkState>>);

#[derive(Debug, Default)]
struct LinkState {
    write: Option<String>,
    reach: Option<String>,
}

impl Link {
    fn state(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes how the follower's last read went. Reaching the database again after losing it
    /// also clears an append's failure: a failure the database's absence caused is over, and
    /// one that is not fails the next append again.
    fn set(&self, broken: Option<String>) {
        let mut state = self.state();
        if broken.is_none() && state.reach.is_some() {
            state.write = None;
        }
        state.reach = broken;
    }

    /// Notes how an append went: a failure is kept until an append commits again.
    pub(crate) fn note_write(&self, failure: Option<String>) {
        self.state().write = failure;
    }

    /// Why the node's writes fail or the database cannot be reached, if either.
    pub(crate) fn broken(&self) -> Option<String> {
        let state = self.state();
        state.write.clone().or_else(|| state.reach.clone())
    }
}

/// Moves when the modules kept may have changed.
pub(crate) type ModuleChanges = Arc<tokio::sync::watch::Sender<u64>>;

/// What a notification said.
enum News {
    Head(u64),
    Modules,
}

/// One listening connection, until it fails.
async fn listen(
    config: &tokio_postgres::Config,
    head: &HeadSender,
    link: &Link,
    modules: &ModuleChanges,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (client, mut connection) =
        tokio::time::timeout(READ_TIMEOUT, config.connect(NoTls)).await??;
    let (news, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let mut messages = Messages(tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) if note.channel() == MODULES_CHANNEL => {
                    let _ = news.send(News::Modules);
                }
                Ok(AsyncMessage::Notification(note)) => {
                    if let Ok(position) = note.payload().parse::<u64>() {
                        let _ = news.send(News::Head(position));
                    }
                }
                Ok(_) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }));
    let channels = format!("LISTEN {CHANNEL}; LISTEN {MODULES_CHANNEL}");
    tokio::time::timeout(READ_TIMEOUT, client.batch_execute(&channels)).await??;
    // What changed while no connection listened is caught up on now.
    modules.send_modify(|n| *n += 1);
    let mut poll = tokio::time::interval(POLL_EVERY);
    loop {
        tokio::select! {
            news = heard.recv() => match news {
                Some(News::Head(position)) => head.advance(Position::new(position)),
                Some(News::Modules) => modules.send_modify(|n| *n += 1),
                None => break,
            },
            _ = poll.tick() => {
                let read = client.query_one("SELECT position FROM log_head", &[]);
                let row = tokio::time::timeout(READ_TIMEOUT, read).await??;
                head.advance(Position::new(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)));
                link.set(None);
            }
        }
    }
    match (&mut messages.0).await {
        Ok(Err(error)) => Err(error.into()),
        _ => Ok(()),
    }
}

/// The task reading a listening connection's messages, which owns the connection: aborted
/// when the follower gives the connection up (a read that timed out on a half-open link would
/// otherwise keep it, and the server's session, listening).
struct Messages(tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

impl Drop for Messages {
    fn drop(&mut self) {
        self.0.abort();
    }
}
