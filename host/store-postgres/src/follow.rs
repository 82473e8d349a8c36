//! Following the head of the log across nodes. Every append notifies channel `cairn_head`
//! with its new head in its transaction, so PostgreSQL delivers the news at commit to every
//! node listening; each node's follower publishes it to the node's [`HeadWatch`]ers
//! (`cairn_store::HeadSender` only moves on). A follower also reads the head each
//! [`POLL_EVERY`], so a lost notification or a broken listening connection delays a waiter by
//! at most that long; it connects again after a failure. This node's own appends publish
//! their head at once, without waiting for the notification.
//!
//! [`HeadWatch`]: cairn_store::HeadWatch

use std::sync::Arc;
use std::time::Duration;

use cairn_store::{HeadSender, Position};
use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel appends notify.
pub(crate) const CHANNEL: &str = "cairn_head";
/// How often a follower reads the head, whatever it heard.
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(1);

/// Follows the head of the database at `config` into `head` until aborted.
pub(crate) async fn follow(config: tokio_postgres::Config, head: Arc<HeadSender>) {
    loop {
        if let Err(error) = listen(&config, &head).await {
            tracing::warn!(%error, "following the log's head on PostgreSQL failed; connecting again");
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// One listening connection, until it fails.
async fn listen(
    config: &tokio_postgres::Config,
    head: &HeadSender,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (news, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let messages = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if let Ok(position) = note.payload().parse::<u64>() {
                        let _ = news.send(position);
                    }
                }
                Ok(_) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    let mut poll = tokio::time::interval(POLL_EVERY);
    loop {
        tokio::select! {
            position = heard.recv() => match position {
                Some(position) => head.advance(Position::new(position)),
                None => break,
            },
            _ = poll.tick() => {
                let row = client.query_one("SELECT position FROM log_head", &[]).await?;
                head.advance(Position::new(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)));
            }
        }
    }
    match messages.await {
        Ok(Err(error)) => Err(error),
        _ => Ok(()),
    }
}
