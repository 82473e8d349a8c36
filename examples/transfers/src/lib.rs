//! The `transfers` process manager: it moves the money of each requested transfer between two
//! `bank_account`s, and settles the `transfer`.
//!
//! 1. On a transfer's `Requested`, withdraw the amount from the source account.
//! 2. On that withdrawal, deposit it to the target account.
//! 3. On that deposit, complete the transfer.
//! 4. If the withdrawal is refused, fail the transfer; if the deposit is refused, deposit the
//!    amount back to the source (compensation), and on that deposit fail the transfer.
//!
//! Every command it sends carries the transfer's correlation id on the events it appends (the
//! host puts it there), so the events of one transfer, in whichever stream, are found by it:
//! the reactor keeps each transfer under its correlation id until it is settled. A refusal
//! reaches it as an `IntentRejected` (or `IntentFailed`) event of its own stream,
//! `transfers-outcomes`, with the same correlation id.

use cairn_sdk::{Intent, Reactor, ReactorError, ReadModel, Recorded, Subscription};
use serde::{Deserialize, Serialize};

/// The events it reacts to, from `transfer` streams, `bank_account` streams and its own.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    Requested {
        from: String,
        to: String,
        amount: i64,
    },
    Completed,
    Failed {
        reason: String,
    },
    Withdrawn {
        amount: i64,
    },
    Deposited {
        amount: i64,
    },
    IntentRejected {
        command_type: String,
        reason: String,
    },
    IntentFailed {
        command_type: String,
        reason: String,
    },
}

/// The commands it sends to bank accounts.
#[derive(Serialize)]
#[serde(tag = "type", content = "data")]
enum AccountCommand {
    Withdraw { amount: i64 },
    Deposit { amount: i64 },
}

/// The commands it sends to transfers.
#[derive(Serialize)]
#[serde(tag = "type", content = "data")]
enum TransferCommand {
    Complete,
    Fail { reason: String },
}

/// Where a transfer in flight stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Withdrawing,
    Depositing,
    /// The deposit was refused, for the reason kept; the money goes back.
    Refunding {
        reason: String,
    },
}

/// A transfer in flight, kept under its correlation id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub transfer: String,
    pub from: String,
    pub to: String,
    pub amount: i64,
    pub step: Step,
}

pub struct Transfers;

const ACCOUNT: &str = "bank_account";
const TRANSFER: &str = "transfer";

impl Reactor for Transfers {
    type Event = Event;

    fn subscription() -> Subscription {
        Subscription::category(TRANSFER)
            .and_category(ACCOUNT)
            .and_category("transfers")
    }

    fn react(
        state: &mut ReadModel<'_>,
        event: Recorded<Event>,
    ) -> Result<Vec<Intent>, ReactorError> {
        let Some(correlation) = event.correlation_id() else {
            return Ok(Vec::new());
        };
        let key = format!("t/{correlation}");
        if let Event::Requested { from, to, amount } = &event.event {
            let flight = InFlight {
                transfer: event.id().to_owned(),
                from: from.clone(),
                to: to.clone(),
                amount: *amount,
                step: Step::Withdrawing,
            };
            state.put_json(&key, &flight)?;
            return Ok(vec![Intent::command(
                ACCOUNT,
                from.as_str(),
                &AccountCommand::Withdraw { amount: *amount },
            )?]);
        }
        let Some(mut flight) = state.get_json::<InFlight>(&key)? else {
            // Not one of ours (a deposit made over HTTP, say), or settled already.
            return Ok(Vec::new());
        };
        let settle =
            |command: TransferCommand| Intent::command(TRANSFER, &flight.transfer, &command);
        let account = event.id();
        let intents = match (&event.event, &flight.step) {
            (Event::Withdrawn { .. }, Step::Withdrawing) if account == flight.from => {
                flight.step = Step::Depositing;
                vec![Intent::command(
                    ACCOUNT,
                    flight.to.as_str(),
                    &AccountCommand::Deposit {
                        amount: flight.amount,
                    },
                )?]
            }
            (Event::Deposited { .. }, Step::Depositing) if account == flight.to => {
                vec![settle(TransferCommand::Complete)?]
            }
            (Event::Deposited { .. }, Step::Refunding { reason }) if account == flight.from => {
                vec![settle(TransferCommand::Fail {
                    reason: format!("the deposit was refused ({reason}); the money went back"),
                })?]
            }
            (
                Event::IntentRejected { reason, .. } | Event::IntentFailed { reason, .. },
                Step::Withdrawing,
            ) => vec![settle(TransferCommand::Fail {
                reason: format!("the withdrawal was refused: {reason}"),
            })?],
            (
                Event::IntentRejected { reason, .. } | Event::IntentFailed { reason, .. },
                Step::Depositing,
            ) => {
                flight.step = Step::Refunding {
                    reason: reason.clone(),
                };
                vec![Intent::command(
                    ACCOUNT,
                    flight.from.as_str(),
                    &AccountCommand::Deposit {
                        amount: flight.amount,
                    },
                )?]
            }
            (Event::Completed | Event::Failed { .. }, _) => {
                state.delete_key(&key);
                return Ok(Vec::new());
            }
            _ => return Ok(Vec::new()),
        };
        state.put_json(&key, &flight)?;
        Ok(intents)
    }
}

cairn_sdk::export_reactor!(Transfers);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing::reactor::{given, given_with_metadata};

    fn run(events: Vec<(&'static str, Event, &'static str)>) -> Vec<Intent> {
        given_with_metadata::<Transfers>(events).intents().to_vec()
    }

    const FIRST: &str = r#"{"command_id":"c1"}"#;
    const CHAINED: &str = r#"{"command_id":"x","correlation_id":"c1"}"#;

    fn requested() -> (&'static str, Event, &'static str) {
        (
            "transfer-t1",
            Event::Requested {
                from: "a".into(),
                to: "b".into(),
                amount: 500,
            },
            FIRST,
        )
    }

    #[test]
    fn a_transfer_withdraws_deposits_and_completes() {
        given_with_metadata::<Transfers>([
            requested(),
            ("bank_account-a", Event::Withdrawn { amount: 500 }, CHAINED),
            ("bank_account-b", Event::Deposited { amount: 500 }, CHAINED),
        ])
        .then_intents([
            Intent::raw("bank_account", "a", "Withdraw", r#"{"amount":500}"#),
            Intent::raw("bank_account", "b", "Deposit", r#"{"amount":500}"#),
            Intent::raw("transfer", "t1", "Complete", "null"),
        ]);
    }

    #[test]
    fn a_refused_withdrawal_fails_the_transfer() {
        let intents = run(vec![
            requested(),
            (
                "transfers-outcomes",
                Event::IntentRejected {
                    command_type: "Withdraw".into(),
                    reason: "insufficient funds".into(),
                },
                CHAINED,
            ),
        ]);
        assert_eq!(intents.len(), 2);
        assert_eq!(intents[1].command_type, "Fail");
        assert!(intents[1].data.contains("insufficient funds"));
    }

    #[test]
    fn a_refused_deposit_is_compensated_then_fails_the_transfer() {
        let intents = run(vec![
            requested(),
            ("bank_account-a", Event::Withdrawn { amount: 500 }, CHAINED),
            (
                "transfers-outcomes",
                Event::IntentRejected {
                    command_type: "Deposit".into(),
                    reason: "the account is not open".into(),
                },
                CHAINED,
            ),
            ("bank_account-a", Event::Deposited { amount: 500 }, CHAINED),
            ("transfer-t1", Event::Failed { reason: "r".into() }, CHAINED),
            // Settled: a late event of the chain does nothing.
            ("bank_account-a", Event::Deposited { amount: 500 }, CHAINED),
        ]);
        let kinds: Vec<(&str, &str, &str)> = intents
            .iter()
            .map(|i| (i.module.as_str(), i.id.as_str(), i.command_type.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("bank_account", "a", "Withdraw"),
                ("bank_account", "b", "Deposit"),
                ("bank_account", "a", "Deposit"),
                ("transfer", "t1", "Fail"),
            ]
        );
    }

    #[test]
    fn events_of_no_transfer_give_nothing() {
        // The harness's events carry no correlation: deposits made over HTTP, say.
        given::<Transfers>([
            ("bank_account-a", Event::Deposited { amount: 5 }),
            ("bank_account-a", Event::Withdrawn { amount: 5 }),
        ])
        .then_intents([]);
    }
}
