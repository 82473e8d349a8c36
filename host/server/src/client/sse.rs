//! [`SseReader`]: the messages of a server-sent event stream, as the client commands read
//! them (`tail`'s subscription, a plan's progress). Bytes are framed before they are decoded,
//! so a character split between two chunks arrives whole.

use futures_util::{Stream, StreamExt};

/// One message: its `event:` name, if it has one, and its `data:` lines joined by newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SseMessage {
    pub(super) event: Option<String>,
    pub(super) data: String,
}

/// Reads messages from a response body. Comments (keep-alives) and messages without data are
/// skipped.
pub(super) struct SseReader<S> {
    body: S,
    buffer: Vec<u8>,
}

impl<S, B, E> SseReader<S>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::error::Error + Send + Sync + 'static,
{
    pub(super) fn new(body: S) -> Self {
        Self {
            body,
            buffer: Vec::new(),
        }
    }

    /// The next message; `None` once the server ends the stream.
    pub(super) async fn next(&mut self) -> anyhow::Result<Option<SseMessage>> {
        loop {
            while let Some(end) = self.buffer.windows(2).position(|pair| pair == b"\n\n") {
                let raw: Vec<u8> = self.buffer.drain(..end + 2).collect();
                if let Some(message) = parse(&String::from_utf8_lossy(&raw)) {
                    return Ok(Some(message));
                }
            }
            match self.body.next().await {
                Some(chunk) => self.buffer.extend_from_slice(chunk?.as_ref()),
                None => return Ok(None),
            }
        }
    }
}

/// A message's fields; `None` for one without data.
fn parse(raw: &str) -> Option<SseMessage> {
    let mut event = None;
    let mut data: Vec<&str> = Vec::new();
    for line in raw.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = Some(name.strip_prefix(' ').unwrap_or(name).to_owned());
        } else if let Some(d) = line.strip_prefix("data:") {
            data.push(d.strip_prefix(' ').unwrap_or(d));
        }
    }
    (!data.is_empty()).then(|| SseMessage {
        event,
        data: data.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_as_bytes_and_keep_alives_skipped() {
        let arrow = "→".as_bytes();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
            Ok(b": keep-alive\n\nevent: report\ndata: {\"a\":\"".to_vec()),
            Ok(arrow[..1].to_vec()),
            Ok(arrow[1..].to_vec()),
            Ok(b"\"}\n\nid: 3\ndata:x\ndata: y\n\n".to_vec()),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut reader = SseReader::new(futures_util::stream::iter(chunks));
            assert_eq!(
                reader.next().await.expect("reads"),
                Some(SseMessage {
                    event: Some("report".to_owned()),
                    data: "{\"a\":\"→\"}".to_owned(),
                })
            );
            assert_eq!(
                reader.next().await.expect("reads"),
                Some(SseMessage {
                    event: None,
                    data: "x\ny".to_owned(),
                })
            );
            assert_eq!(reader.next().await.expect("reads"), None);
        });
    }
}
