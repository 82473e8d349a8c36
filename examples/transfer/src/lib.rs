//! A money transfer between two bank accounts, as its own aggregate: it is requested, then
//! completed or failed. The `transfers` reactor moves the money and settles it.

use cairn_sdk::{Aggregate, Rejection};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    New,
    Requested,
    Completed,
    Failed,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub stage: Stage,
    pub from: String,
    pub to: String,
    /// In cents.
    pub amount: i64,
    /// Why it failed, once it has.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum TransferCommand {
    Request {
        from: String,
        to: String,
        amount: i64,
    },
    Complete,
    Fail {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum TransferEvent {
    Requested {
        from: String,
        to: String,
        amount: i64,
    },
    Completed,
    Failed {
        reason: String,
    },
}

pub struct TransferAggregate;

impl Aggregate for TransferAggregate {
    type State = Transfer;
    type Command = TransferCommand;
    type Event = TransferEvent;

    fn decide(
        transfer: &Transfer,
        command: TransferCommand,
    ) -> Result<Vec<TransferEvent>, Rejection> {
        match command {
            TransferCommand::Request { from, to, amount } => {
                if transfer.stage != Stage::New {
                    return Err("the transfer was requested already".into());
                }
                if from.is_empty() || to.is_empty() {
                    return Err("a transfer needs a source and a target account".into());
                }
                if from == to {
                    return Err("a transfer needs two different accounts".into());
                }
                if amount <= 0 {
                    return Err(Rejection::new(format!(
                        "the amount must be greater than zero, not {amount}"
                    )));
                }
                Ok(vec![TransferEvent::Requested { from, to, amount }])
            }
            TransferCommand::Complete => match transfer.stage {
                Stage::Requested => Ok(vec![TransferEvent::Completed]),
                Stage::Completed => Ok(Vec::new()),
                Stage::New | Stage::Failed => {
                    Err("only a requested transfer can be completed".into())
                }
            },
            TransferCommand::Fail { reason } => match transfer.stage {
                Stage::Requested => Ok(vec![TransferEvent::Failed { reason }]),
                Stage::Failed => Ok(Vec::new()),
                Stage::New | Stage::Completed => Err("only a requested transfer can fail".into()),
            },
        }
    }

    fn evolve(transfer: &mut Transfer, event: &TransferEvent) {
        match event {
            TransferEvent::Requested { from, to, amount } => {
                transfer.stage = Stage::Requested;
                transfer.from = from.clone();
                transfer.to = to.clone();
                transfer.amount = *amount;
            }
            TransferEvent::Completed => transfer.stage = Stage::Completed,
            TransferEvent::Failed { reason } => {
                transfer.stage = Stage::Failed;
                transfer.reason = Some(reason.clone());
            }
        }
    }
}

cairn_sdk::export_aggregate!(TransferAggregate);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing::given;

    fn requested() -> TransferEvent {
        TransferEvent::Requested {
            from: "a".into(),
            to: "b".into(),
            amount: 500,
        }
    }

    #[test]
    fn is_requested_once_between_two_accounts() {
        given::<TransferAggregate>([])
            .when(TransferCommand::Request {
                from: "a".into(),
                to: "b".into(),
                amount: 500,
            })
            .then_events([requested()]);
        given::<TransferAggregate>([requested()])
            .when(TransferCommand::Request {
                from: "a".into(),
                to: "b".into(),
                amount: 5,
            })
            .then_rejected("already");
        given::<TransferAggregate>([])
            .when(TransferCommand::Request {
                from: "a".into(),
                to: "a".into(),
                amount: 5,
            })
            .then_rejected("two different accounts");
        given::<TransferAggregate>([])
            .when(TransferCommand::Request {
                from: "a".into(),
                to: "b".into(),
                amount: 0,
            })
            .then_rejected("greater than zero");
    }

    #[test]
    fn ends_once_completed_or_failed() {
        given::<TransferAggregate>([requested()])
            .when(TransferCommand::Complete)
            .then_events([TransferEvent::Completed]);
        given::<TransferAggregate>([requested(), TransferEvent::Completed])
            .when(TransferCommand::Complete)
            .then_events([]);
        given::<TransferAggregate>([requested(), TransferEvent::Completed])
            .when(TransferCommand::Fail {
                reason: "late".into(),
            })
            .then_rejected("only a requested transfer");
        given::<TransferAggregate>([])
            .when(TransferCommand::Complete)
            .then_rejected("only a requested transfer");
    }
}
