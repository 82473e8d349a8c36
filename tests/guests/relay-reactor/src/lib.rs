//! The reactor `cairn bench reactors` measures: each `Pinged { account }` event of a `source`
//! stream becomes one `Deposit { amount: 1 }` to that `bank_account`. It keeps no state, so
//! what is measured is the host's work per reaction.

use cairn_sdk::{Intent, Reactor, ReactorError, ReadModel, Recorded, Subscription};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    Pinged { account: String },
}

#[derive(Serialize)]
#[serde(tag = "type", content = "data")]
enum Command {
    Deposit { amount: i64 },
}

pub struct Relay;

impl Reactor for Relay {
    type Event = Event;

    fn subscription() -> Subscription {
        Subscription::category("source").event_types(["Pinged"])
    }

    fn react(_: &mut ReadModel<'_>, event: Recorded<Event>) -> Result<Vec<Intent>, ReactorError> {
        let Event::Pinged { account } = event.event;
        Ok(vec![Intent::command(
            "bank_account",
            account,
            &Command::Deposit { amount: 1 },
        )?])
    }
}

cairn_sdk::export_reactor!(Relay);
