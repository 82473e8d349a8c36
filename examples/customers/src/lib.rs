//! A customer list, event-sourced: create, update, delete. A customer is created once, a
//! missing or deleted customer cannot be changed, and an email must look like one.
//!
//! These are the events' second shape. The first stored `CustomerCreated { name, email }` and
//! `CustomerUpdated { name, email }`; the `customers_upcaster` module
//! (`examples/customers-upcaster`) reads those as `CustomerRegistered`, and as
//! `CustomerRenamed` then `CustomerEmailChanged`.

use cairn_sdk::{Aggregate, Rejection};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Missing,
    Active,
    Deleted,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub status: Status,
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CustomerCommand {
    Create {
        name: String,
        email: String,
    },
    Update {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        email: Option<String>,
    },
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CustomerEvent {
    CustomerRegistered { name: String, email: String },
    CustomerRenamed { name: String },
    CustomerEmailChanged { email: String },
    CustomerDeleted,
}

pub struct Customers;

impl Aggregate for Customers {
    type State = Customer;
    type Command = CustomerCommand;
    type Event = CustomerEvent;

    fn decide(
        customer: &Customer,
        command: CustomerCommand,
    ) -> Result<Vec<CustomerEvent>, Rejection> {
        match command {
            CustomerCommand::Create { name, email } => {
                if customer.status != Status::Missing {
                    return Err("the customer already exists; a customer is created once".into());
                }
                check_email(&email)?;
                Ok(vec![CustomerEvent::CustomerRegistered { name, email }])
            }
            CustomerCommand::Update { name, email } => {
                require_active(customer)?;
                if let Some(email) = &email {
                    check_email(email)?;
                }
                // Only what changes: nothing if nothing does.
                let renamed = name
                    .filter(|name| *name != customer.name)
                    .map(|name| CustomerEvent::CustomerRenamed { name });
                let email_changed = email
                    .filter(|email| *email != customer.email)
                    .map(|email| CustomerEvent::CustomerEmailChanged { email });
                Ok(renamed.into_iter().chain(email_changed).collect())
            }
            CustomerCommand::Delete => {
                require_active(customer)?;
                Ok(vec![CustomerEvent::CustomerDeleted])
            }
        }
    }

    fn evolve(customer: &mut Customer, event: &CustomerEvent) {
        match event {
            CustomerEvent::CustomerRegistered { name, email } => {
                customer.status = Status::Active;
                customer.name = name.clone();
                customer.email = email.clone();
            }
            CustomerEvent::CustomerRenamed { name } => customer.name = name.clone(),
            CustomerEvent::CustomerEmailChanged { email } => customer.email = email.clone(),
            CustomerEvent::CustomerDeleted => customer.status = Status::Deleted,
        }
    }
}

fn require_active(customer: &Customer) -> Result<(), Rejection> {
    match customer.status {
        Status::Active => Ok(()),
        Status::Missing => Err("no such customer".into()),
        Status::Deleted => Err("the customer was deleted".into()),
    }
}

/// An address with one `@`, a non-empty local part, and a domain with a dot that neither starts
/// nor ends it; no spaces; at most 254 bytes.
fn check_email(email: &str) -> Result<(), Rejection> {
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(())
    } else {
        Err(Rejection::new(format!(
            "{email:?} is not a valid email address"
        )))
    }
}

cairn_sdk::export_aggregate!(Customers);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing::given;

    fn registered() -> CustomerEvent {
        CustomerEvent::CustomerRegistered {
            name: "Ada".into(),
            email: "ada@example.com".into(),
        }
    }

    #[test]
    fn creates_once() {
        given::<Customers>([])
            .when(CustomerCommand::Create {
                name: "Ada".into(),
                email: "ada@example.com".into(),
            })
            .then_events([registered()])
            .then_state(Customer {
                status: Status::Active,
                name: "Ada".into(),
                email: "ada@example.com".into(),
            });
        given::<Customers>([registered()])
            .when(CustomerCommand::Create {
                name: "Ada".into(),
                email: "ada@example.com".into(),
            })
            .then_rejected("already exists");
        given::<Customers>([registered(), CustomerEvent::CustomerDeleted])
            .when(CustomerCommand::Create {
                name: "Ada".into(),
                email: "ada@example.com".into(),
            })
            .then_rejected("already exists");
    }

    #[test]
    fn updates_only_what_changes() {
        given::<Customers>([registered()])
            .when(CustomerCommand::Update {
                name: None,
                email: Some("ada@lovelace.org".into()),
            })
            .then_events([CustomerEvent::CustomerEmailChanged {
                email: "ada@lovelace.org".into(),
            }])
            .then_state(Customer {
                status: Status::Active,
                name: "Ada".into(),
                email: "ada@lovelace.org".into(),
            });
        given::<Customers>([registered()])
            .when(CustomerCommand::Update {
                name: Some("Ada L.".into()),
                email: Some("ada@example.com".into()),
            })
            .then_events([CustomerEvent::CustomerRenamed {
                name: "Ada L.".into(),
            }]);
        given::<Customers>([registered()])
            .when(CustomerCommand::Update {
                name: Some("Ada L.".into()),
                email: Some("ada@lovelace.org".into()),
            })
            .then_events([
                CustomerEvent::CustomerRenamed {
                    name: "Ada L.".into(),
                },
                CustomerEvent::CustomerEmailChanged {
                    email: "ada@lovelace.org".into(),
                },
            ])
            .then_state(Customer {
                status: Status::Active,
                name: "Ada L.".into(),
                email: "ada@lovelace.org".into(),
            });
        given::<Customers>([registered()])
            .when(CustomerCommand::Update {
                name: Some("Ada".into()),
                email: None,
            })
            .then_events([]);
        given::<Customers>([registered()])
            .when(CustomerCommand::Update {
                name: None,
                email: None,
            })
            .then_events([]);
    }

    #[test]
    fn a_missing_or_deleted_customer_cannot_change() {
        given::<Customers>([])
            .when(CustomerCommand::Update {
                name: Some("X".into()),
                email: None,
            })
            .then_rejected("no such customer");
        given::<Customers>([])
            .when(CustomerCommand::Delete)
            .then_rejected("no such customer");
        given::<Customers>([registered(), CustomerEvent::CustomerDeleted])
            .when(CustomerCommand::Delete)
            .then_rejected("deleted");
        given::<Customers>([registered(), CustomerEvent::CustomerDeleted])
            .when(CustomerCommand::Update {
                name: Some("X".into()),
                email: None,
            })
            .then_rejected("deleted");
    }

    #[test]
    fn deletes() {
        given::<Customers>([registered()])
            .when(CustomerCommand::Delete)
            .then_events([CustomerEvent::CustomerDeleted])
            .then_state(Customer {
                status: Status::Deleted,
                name: "Ada".into(),
                email: "ada@example.com".into(),
            });
    }

    #[test]
    fn emails_must_look_like_emails() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@.com",
            "ada@example.",
        ] {
            given::<Customers>([])
                .when(CustomerCommand::Create {
                    name: "Ada".into(),
                    email: bad.into(),
                })
                .then_rejected("not a valid email");
        }
        given::<Customers>([registered()])
            .when(CustomerCommand::Update {
                name: None,
                email: Some("nope".into()),
            })
            .then_rejected("not a valid email");
    }
}
