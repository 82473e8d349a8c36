//! A test reactor over `bank_account` streams. It keeps a shadow account `{id}_shadow` for each
//! account: it opens the shadow when the account opens, and deposits to it each amount
//! deposited to the account. It counts the events it reacted to in its state (`seen`).
//!
//! What it does wrong, on cue (none of it in the `fixed` build, which shadows withdrawals as
//! deposits too):
//! - a `Withdrawn` event: it fails (a panic, a trap);
//! - a deposit of 666: it loops forever; of 777: it hoards memory until the limit;
//! - an account opened by owner `bad-input`: it sends three commands that cannot be executed
//!   (an unknown module, an invalid id, a command the aggregate does not know).

use cairn_sdk::{Intent, Reactor, ReactorError, ReadModel, Recorded, Subscription};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    Opened { owner: String },
    Deposited { amount: i64 },
    Withdrawn { amount: i64 },
}

#[derive(Serialize)]
#[serde(tag = "type", content = "data")]
enum Command {
    Open { owner: String },
    Deposit { amount: i64 },
}

pub struct Picky;

impl Reactor for Picky {
    type Event = Event;

    fn subscription() -> Subscription {
        Subscription::category("bank_account")
    }

    fn react(
        state: &mut ReadModel<'_>,
        event: Recorded<Event>,
    ) -> Result<Vec<Intent>, ReactorError> {
        let account = event.id();
        if account.ends_with("_shadow") {
            return Ok(Vec::new());
        }
        let shadow = format!("{account}_shadow");
        state.add("seen", 1)?;
        Ok(match event.event {
            Event::Opened { owner } if owner == "bad-input" => vec![
                Intent::command("no_such_module", "x", &Command::Deposit { amount: 1 })?,
                Intent::command(
                    "bank_account",
                    "bad\u{1}id",
                    &Command::Deposit { amount: 1 },
                )?,
                Intent::raw("bank_account", &shadow, "Explode", "{}"),
            ],
            Event::Opened { owner } => {
                vec![Intent::command(
                    "bank_account",
                    shadow,
                    &Command::Open { owner },
                )?]
            }
            Event::Deposited { amount } => {
                misbehave(amount);
                vec![Intent::command(
                    "bank_account",
                    shadow,
                    &Command::Deposit { amount },
                )?]
            }
            Event::Withdrawn { amount } => withdrawn(&shadow, amount)?,
        })
    }
}

#[cfg(not(feature = "fixed"))]
fn withdrawn(_shadow: &str, _amount: i64) -> Result<Vec<Intent>, ReactorError> {
    panic!("withdrawals are not handled")
}

#[cfg(feature = "fixed")]
fn withdrawn(shadow: &str, amount: i64) -> Result<Vec<Intent>, ReactorError> {
    Ok(vec![Intent::command(
        "bank_account",
        shadow,
        &Command::Deposit { amount },
    )?])
}

#[cfg(not(feature = "fixed"))]
fn misbehave(amount: i64) {
    match amount {
        666 => loop {
            std::hint::black_box(0);
        },
        777 => {
            // Reserve without touching, so memory, not fuel, runs out first.
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(Vec::with_capacity(16 << 20));
                std::hint::black_box(&hoard);
            }
        }
        _ => {}
    }
}

#[cfg(feature = "fixed")]
fn misbehave(_amount: i64) {}

cairn_sdk::export_reactor!(Picky);
