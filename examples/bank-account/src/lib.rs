//! A bank account: open it, deposit, withdraw. It never goes overdrawn, and amounts are whole
//! cents greater than zero.

use cairn_sdk::{Aggregate, Rejection};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub owner: Option<String>,
    /// In cents.
    pub balance: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AccountCommand {
    Open { owner: String },
    Deposit { amount: i64 },
    Withdraw { amount: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AccountEvent {
    Opened { owner: String },
    Deposited { amount: i64 },
    Withdrawn { amount: i64 },
}

pub struct BankAccount;

impl Aggregate for BankAccount {
    type State = Account;
    type Command = AccountCommand;
    type Event = AccountEvent;

    fn decide(account: &Account, command: AccountCommand) -> Result<Vec<AccountEvent>, Rejection> {
        match command {
            AccountCommand::Open { owner } => {
                if account.owner.is_some() {
                    return Err("the account is already open".into());
                }
                if owner.trim().is_empty() {
                    return Err("an account needs an owner".into());
                }
                Ok(vec![AccountEvent::Opened { owner }])
            }
            AccountCommand::Deposit { amount } => {
                require_open(account)?;
                require_positive(amount)?;
                if account.balance.checked_add(amount).is_none() {
                    return Err("the balance would overflow".into());
                }
                Ok(vec![AccountEvent::Deposited { amount }])
            }
            AccountCommand::Withdraw { amount } => {
                require_open(account)?;
                require_positive(amount)?;
                if amount > account.balance {
                    return Err(Rejection::new(format!(
                        "insufficient funds: the balance is {}, the withdrawal {amount}",
                        account.balance
                    )));
                }
                Ok(vec![AccountEvent::Withdrawn { amount }])
            }
        }
    }

    fn evolve(account: &mut Account, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { owner } => account.owner = Some(owner.clone()),
            AccountEvent::Deposited { amount } => account.balance += amount,
            AccountEvent::Withdrawn { amount } => account.balance -= amount,
        }
    }
}

fn require_open(account: &Account) -> Result<(), Rejection> {
    match account.owner {
        Some(_) => Ok(()),
        None => Err("the account is not open".into()),
    }
}

fn require_positive(amount: i64) -> Result<(), Rejection> {
    if amount > 0 {
        Ok(())
    } else {
        Err(Rejection::new(format!(
            "the amount must be greater than zero, not {amount}"
        )))
    }
}

cairn_sdk::export_aggregate!(BankAccount);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing::given;

    fn opened() -> AccountEvent {
        AccountEvent::Opened {
            owner: "Ada".into(),
        }
    }

    #[test]
    fn opens_once() {
        given::<BankAccount>([])
            .when(AccountCommand::Open {
                owner: "Ada".into(),
            })
            .then_events([opened()])
            .then_state(Account {
                owner: Some("Ada".into()),
                balance: 0,
            });
        given::<BankAccount>([opened()])
            .when(AccountCommand::Open {
                owner: "Bob".into(),
            })
            .then_rejected("already open");
        given::<BankAccount>([])
            .when(AccountCommand::Open { owner: "  ".into() })
            .then_rejected("needs an owner");
    }

    #[test]
    fn deposits_and_withdraws() {
        given::<BankAccount>([opened(), AccountEvent::Deposited { amount: 100 }])
            .when(AccountCommand::Withdraw { amount: 30 })
            .then_events([AccountEvent::Withdrawn { amount: 30 }])
            .then_state(Account {
                owner: Some("Ada".into()),
                balance: 70,
            });
        given::<BankAccount>([opened()])
            .when(AccountCommand::Deposit { amount: 5 })
            .then_events([AccountEvent::Deposited { amount: 5 }]);
    }

    #[test]
    fn never_overdraws() {
        given::<BankAccount>([opened(), AccountEvent::Deposited { amount: 100 }])
            .when(AccountCommand::Withdraw { amount: 101 })
            .then_rejected("insufficient funds");
        given::<BankAccount>([opened(), AccountEvent::Deposited { amount: 100 }])
            .when(AccountCommand::Withdraw { amount: 100 })
            .then_state(Account {
                owner: Some("Ada".into()),
                balance: 0,
            });
    }

    #[test]
    fn refuses_zero_negative_and_closed_accounts() {
        for amount in [0, -1, i64::MIN] {
            given::<BankAccount>([opened()])
                .when(AccountCommand::Deposit { amount })
                .then_rejected("greater than zero");
            given::<BankAccount>([opened()])
                .when(AccountCommand::Withdraw { amount })
                .then_rejected("greater than zero");
        }
        given::<BankAccount>([])
            .when(AccountCommand::Deposit { amount: 1 })
            .then_rejected("not open");
        given::<BankAccount>([opened(), AccountEvent::Deposited { amount: i64::MAX }])
            .when(AccountCommand::Deposit { amount: 1 })
            .then_rejected("overflow");
    }

    #[test]
    fn events_cross_the_boundary_as_type_and_data() {
        let events = cairn_sdk::glue::decide::<BankAccount>(
            &cairn_sdk::glue::evolve::<BankAccount>(
                &cairn_sdk::glue::init::<BankAccount>(),
                [("Opened".to_owned(), r#"{"owner":"Ada"}"#.to_owned())],
            )
            .expect("folds"),
            "Deposit",
            r#"{"amount": 5}"#,
        )
        .expect("decides");
        assert_eq!(
            events,
            [("Deposited".to_owned(), r#"{"amount":5}"#.to_owned())]
        );
        let invalid = cairn_sdk::glue::decide::<BankAccount>(b"{}", "Deposit", r#"{"amount":"5"}"#);
        assert!(
            matches!(invalid, Err(cairn_sdk::glue::DecideError::Invalid(_))),
            "{invalid:?}"
        );
        let unknown = cairn_sdk::glue::decide::<BankAccount>(b"{}", "Steal", "{}");
        assert!(
            matches!(unknown, Err(cairn_sdk::glue::DecideError::Invalid(_))),
            "{unknown:?}"
        );
    }
}
