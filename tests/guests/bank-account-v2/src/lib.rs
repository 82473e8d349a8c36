//! A later version of the `bank_account` example, for the plan tests. It differs from the
//! example by four rules, each one a kind of change a plan must report:
//! 1. Its state keeps an owner named `Eve` in capitals: those states differ.
//! 2. It reads a deposit's amount as a `u16`: a stored deposit over 65,535 cannot be read.
//! 3. It refuses withdrawals over 300 and deposits over 65,535: those decisions flip.
//! 4. A deposit of 1,000 or more also records `BigDeposit`: those decisions differ.
//!
//! Everything else is the example's.

use cairn_sdk::{Aggregate, Rejection};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub owner: Option<String>,
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
    Deposited { amount: u16 },
    Withdrawn { amount: i64 },
    BigDeposit {},
}

pub struct BankAccountV2;

impl Aggregate for BankAccountV2 {
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
                open(account)?;
                let amount = u16::try_from(amount).map_err(|_| {
                    Rejection::new(format!("a deposit is at most 65535, not {amount}"))
                })?;
                let mut events = vec![AccountEvent::Deposited { amount }];
                if amount >= 1_000 {
                    events.push(AccountEvent::BigDeposit {});
                }
                Ok(events)
            }
            AccountCommand::Withdraw { amount } => {
                open(account)?;
                if amount > 300 {
                    return Err(Rejection::new(format!("over the limit of 300: {amount}")));
                }
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
            AccountEvent::Opened { owner } if owner == "Eve" => {
                account.owner = Some(owner.to_uppercase());
            }
            AccountEvent::Opened { owner } => account.owner = Some(owner.clone()),
            AccountEvent::Deposited { amount } => account.balance += i64::from(*amount),
            AccountEvent::Withdrawn { amount } => account.balance -= amount,
            AccountEvent::BigDeposit {} => {}
        }
    }
}

fn open(account: &Account) -> Result<(), Rejection> {
    match account.owner {
        Some(_) => Ok(()),
        None => Err("the account is not open".into()),
    }
}

cairn_sdk::export_aggregate!(BankAccountV2);
