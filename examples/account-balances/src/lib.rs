//! Account balances, projected from the `bank_account` aggregate's events: every balance, the
//! total ever deposited, and the top N balances.
//!
//! `bank_account` streams are named `bank_account-{id}`: their category (the part before the
//! first `-`) is the module's name, and the account id is the rest (`Recorded::id`).
//!
//! Read model keys:
//! - `balance/{id}`: the account's balance, in cents;
//! - `rank/{inverted balance}/{id}`: an index in descending balance order (the balance is
//!   stored as `i64::MAX - balance`, zero-padded, so key order is balance order reversed);
//! - `total_deposits`: the sum of every deposit.

use cairn_sdk::{Projection, ProjectionError, ReadModel, Recorded, Subscription};
use serde::{Deserialize, Serialize};

/// The `bank_account` events this projection reads (its own view of them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AccountEvent {
    Opened { owner: String },
    Deposited { amount: i64 },
    Withdrawn { amount: i64 },
}

/// Requests: `{"type": "total_deposits"}`, `{"type": "top", "n": 3}` or
/// `{"type": "balance", "account": "7"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BalanceQuery {
    TotalDeposits,
    /// The `n` largest balances (at most 100), largest first.
    Top {
        n: u32,
    },
    Balance {
        account: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    pub account: String,
    pub balance: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BalanceAnswer {
    TotalDeposits { total_deposits: i64 },
    Top { top: Vec<Ranked> },
    Balance { balance: Option<i64> },
}

pub struct AccountBalances;

impl Projection for AccountBalances {
    type Event = AccountEvent;
    type Query = BalanceQuery;
    type Answer = BalanceAnswer;

    fn subscription() -> Subscription {
        Subscription::category("bank_account")
    }

    fn apply(
        model: &mut ReadModel<'_>,
        event: Recorded<AccountEvent>,
    ) -> Result<(), ProjectionError> {
        let account = account_of(&event.stream).to_owned();
        let old: Option<i64> = model.get_json(&balance_key(&account))?;
        let new = match (&event.event, old) {
            (AccountEvent::Opened { .. }, None) => 0,
            (AccountEvent::Opened { .. }, Some(balance)) => balance,
            (AccountEvent::Deposited { amount }, Some(balance)) => {
                model.add("total_deposits", *amount)?;
                balance + amount
            }
            (AccountEvent::Withdrawn { amount }, Some(balance)) => balance - amount,
            (_, None) => {
                return Err(format!("{} moved money before it was opened", event.stream).into());
            }
        };
        if let Some(old) = old {
            model.delete_key(&rank_key(old, &account));
        }
        model.put_json(&rank_key(new, &account), &())?;
        model.put_json(&balance_key(&account), &new)
    }

    fn query(model: &ReadModel<'_>, query: BalanceQuery) -> Result<BalanceAnswer, ProjectionError> {
        match query {
            BalanceQuery::TotalDeposits => Ok(BalanceAnswer::TotalDeposits {
                total_deposits: model.get_json("total_deposits")?.unwrap_or(0),
            }),
            BalanceQuery::Top { n } => {
                let mut top = Vec::new();
                for (key, _) in model.scan(b"rank/", None, n.min(100)) {
                    let key = String::from_utf8_lossy(&key).into_owned();
                    let account = key.splitn(3, '/').nth(2).unwrap_or_default().to_owned();
                    let balance = model.get_json(&balance_key(&account))?.unwrap_or(0);
                    top.push(Ranked { account, balance });
                }
                Ok(BalanceAnswer::Top { top })
            }
            BalanceQuery::Balance { account } => Ok(BalanceAnswer::Balance {
                balance: model.get_json(&balance_key(&account))?,
            }),
        }
    }
}

/// The account id of a `bank_account-{id}` stream.
fn account_of(stream: &str) -> &str {
    stream.strip_prefix("bank_account-").unwrap_or(stream)
}

fn balance_key(account: &str) -> String {
    format!("balance/{account}")
}

fn rank_key(balance: i64, account: &str) -> String {
    // Balances are never negative (no overdraft); clamp so a bad one still sorts.
    let inverted = i64::MAX - balance.max(0);
    format!("rank/{inverted:020}/{account}")
}

cairn_sdk::export_projection!(AccountBalances);

#[cfg(test)]
mod tests {
    use cairn_sdk::testing::projection::given;

    use super::*;

    fn opened() -> AccountEvent {
        AccountEvent::Opened {
            owner: "ada".into(),
        }
    }

    #[test]
    fn totals_deposits_and_ranks_balances() {
        given::<AccountBalances>([
            ("bank_account-1", opened()),
            ("bank_account-2", opened()),
            ("bank_account-3", opened()),
            ("bank_account-1", AccountEvent::Deposited { amount: 500 }),
            ("bank_account-2", AccountEvent::Deposited { amount: 900 }),
            ("bank_account-3", AccountEvent::Deposited { amount: 100 }),
            ("bank_account-2", AccountEvent::Withdrawn { amount: 600 }),
        ])
        .then_query(
            BalanceQuery::TotalDeposits,
            BalanceAnswer::TotalDeposits {
                total_deposits: 1500,
            },
        )
        .then_query(
            BalanceQuery::Top { n: 2 },
            BalanceAnswer::Top {
                top: vec![
                    Ranked {
                        account: "1".into(),
                        balance: 500,
                    },
                    Ranked {
                        account: "2".into(),
                        balance: 300,
                    },
                ],
            },
        )
        .then_query(
            BalanceQuery::Balance {
                account: "3".into(),
            },
            BalanceAnswer::Balance { balance: Some(100) },
        )
        .then_query(
            BalanceQuery::Balance {
                account: "9".into(),
            },
            BalanceAnswer::Balance { balance: None },
        );
    }

    #[test]
    fn money_moved_before_opening_is_a_fault_at_that_event() {
        given::<AccountBalances>([("bank_account-1", AccountEvent::Deposited { amount: 5 })])
            .then_fails_at(0, "before it was opened");
    }
}
