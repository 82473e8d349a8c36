//! The webhook publisher: each event is POSTed, as JSON, to the target URL with its id as the
//! `Idempotency-Key`, so a receiver can drop a duplicate. The events of one batch are of
//! different keys (the group has one in flight per key), so they are sent at once.

use std::time::Duration;

use cairn_groups::Delivery;
use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::WebhookTarget;
use crate::outcome::Outcome;

/// POSTs in flight at once.
const CONCURRENCY: usize = 64;

#[derive(Debug)]
pub(crate) struct WebhookPublisher {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl WebhookPublisher {
    pub(crate) fn new(target: &WebhookTarget) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        for (name, value) in &target.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(target.timeout_ms))
            .default_headers(headers)
            .build()
            .map_err(|e| e.to_string())?;
        let url = reqwest::Url::parse(&target.url).map_err(|e| e.to_string())?;
        Ok(Self { client, url })
    }

    pub(crate) async fn publish(&self, batch: &[Delivery]) -> Vec<Outcome> {
        // Made first, polled at most CONCURRENCY at a time, in order.
        let posts: Vec<_> = batch.iter().map(|delivery| self.post(delivery)).collect();
        stream::iter(posts).buffered(CONCURRENCY).collect().await
    }

    async fn post(&self, delivery: &Delivery) -> Outcome {
        let event = &delivery.event;
        let sent = self
            .client
            .post(self.url.clone())
            .header("idempotency-key", event.id.to_string())
            .header("cairn-stream", event.stream.as_str())
            .header("cairn-position", event.position.get().to_string())
            .header("cairn-event-type", event.event_type.as_str())
            .json(&**event)
            .send()
            .await;
        match sent {
            Err(error) => Outcome::Unavailable(format!("POST {}: {error}", self.url)),
            Ok(reply) => classify(reply.status(), &self.url),
        }
    }
}

/// A 2xx is delivered; a 408, a 429 or a 5xx says the receiver is not able now; any other
/// status refuses the event.
fn classify(status: StatusCode, url: &reqwest::Url) -> Outcome {
    if status.is_success() {
        Outcome::Delivered
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Outcome::Unavailable(format!("POST {url}: {status}"))
    } else {
        Outcome::Refused(format!("POST {url}: {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_sorted_into_outcomes() {
        let url = reqwest::Url::parse("http://h/").expect("a URL");
        assert_eq!(classify(StatusCode::NO_CONTENT, &url), Outcome::Delivered);
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &url),
            Outcome::Unavailable(_)
        ));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, &url),
            Outcome::Unavailable(_)
        ));
        assert!(matches!(
            classify(StatusCode::UNPROCESSABLE_ENTITY, &url),
            Outcome::Refused(_)
        ));
    }
}
