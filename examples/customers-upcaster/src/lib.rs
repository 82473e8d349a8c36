//! The `customers` events of the first shape, read as the second. Version one stored
//! `CustomerCreated { name, email }` and `CustomerUpdated { name, email }` (both fields on
//! every update); version two stores `CustomerRegistered`, and `CustomerRenamed` and
//! `CustomerEmailChanged` for only what changed. The host passes this module the stored events
//! of the first two types, on every read of a `customers` stream, and readers see:
//! - `CustomerCreated { name, email }` as `CustomerRegistered { name, email }`;
//! - `CustomerUpdated { name, email }` as `CustomerRenamed { name }` then
//!   `CustomerEmailChanged { email }`. An old update did not say what changed, so both are read;
//!   setting a field to its value is harmless to every reader.
//!
//! `CustomerDeleted` kept its shape and reaches readers as stored.

use cairn_sdk::{StoredEvent, UpcastError, Upcaster};
use serde::{Deserialize, Serialize};

/// The events of the second shape this module gives (its own copy of those of `customers`:
/// this crate does not link the aggregate, whose exports would end up in this module too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum CustomerEvent {
    CustomerRegistered { name: String, email: String },
    CustomerRenamed { name: String },
    CustomerEmailChanged { email: String },
}

/// The data of both events of the first shape.
#[derive(Deserialize)]
struct NameAndEmail {
    name: String,
    email: String,
}

pub struct CustomersUpcaster;

impl Upcaster for CustomersUpcaster {
    const CATEGORY: &'static str = "customers";
    const EVENT_TYPES: &'static [&'static str] = &["CustomerCreated", "CustomerUpdated"];
    type Event = CustomerEvent;

    fn upcast(stored: &StoredEvent) -> Result<Vec<CustomerEvent>, UpcastError> {
        match stored.event_type() {
            "CustomerCreated" => {
                let NameAndEmail { name, email } = stored.data()?;
                Ok(vec![CustomerEvent::CustomerRegistered { name, email }])
            }
            "CustomerUpdated" => {
                let NameAndEmail { name, email } = stored.data()?;
                Ok(vec![
                    CustomerEvent::CustomerRenamed { name },
                    CustomerEvent::CustomerEmailChanged { email },
                ])
            }
            other => Err(UpcastError::new(format!(
                "{other} is not a first-shape customers event"
            ))),
        }
    }
}

cairn_sdk::export_upcaster!(CustomersUpcaster);

#[cfg(test)]
mod tests {
    use cairn_sdk::testing::{given_stored, upcast};
    use customers::{Customer, CustomerCommand, Customers, Status};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_created_customer_is_read_as_registered() {
        upcast::<CustomersUpcaster>(
            "CustomerCreated",
            json!({"name": "Ada", "email": "ada@example.com"}),
        )
        .then_events([CustomerEvent::CustomerRegistered {
            name: "Ada".into(),
            email: "ada@example.com".into(),
        }]);
    }

    #[test]
    fn an_update_is_read_as_a_rename_then_an_email_change() {
        upcast::<CustomersUpcaster>(
            "CustomerUpdated",
            json!({"name": "Ada L.", "email": "ada@lovelace.org"}),
        )
        .then_events([
            CustomerEvent::CustomerRenamed {
                name: "Ada L.".into(),
            },
            CustomerEvent::CustomerEmailChanged {
                email: "ada@lovelace.org".into(),
            },
        ]);
    }

    #[test]
    fn a_stored_event_without_its_fields_is_an_error_naming_it() {
        upcast::<CustomersUpcaster>("CustomerUpdated", json!({"name": "Ada"}))
            .then_error("the stored CustomerUpdated does not decode: missing field `email`");
        upcast::<CustomersUpcaster>("CustomerDeleted", json!(null))
            .then_error("CustomerDeleted is not an event type this upcaster upgrades");
    }

    #[test]
    fn the_v2_events_are_the_aggregates() {
        // This crate's copy of the events must encode as the aggregate's do.
        for (mine, theirs) in [
            (
                CustomerEvent::CustomerRegistered {
                    name: "Ada".into(),
                    email: "ada@example.com".into(),
                },
                customers::CustomerEvent::CustomerRegistered {
                    name: "Ada".into(),
                    email: "ada@example.com".into(),
                },
            ),
            (
                CustomerEvent::CustomerRenamed { name: "Ada".into() },
                customers::CustomerEvent::CustomerRenamed { name: "Ada".into() },
            ),
            (
                CustomerEvent::CustomerEmailChanged {
                    email: "a@b.c".into(),
                },
                customers::CustomerEvent::CustomerEmailChanged {
                    email: "a@b.c".into(),
                },
            ),
        ] {
            assert_eq!(
                serde_json::to_value(mine).expect("encodes"),
                serde_json::to_value(theirs).expect("encodes")
            );
        }
    }

    #[test]
    fn a_stream_stored_before_the_change_loads_and_takes_commands() {
        let stored = || {
            given_stored::<CustomersUpcaster, Customers>([
                (
                    "CustomerCreated",
                    json!({"name": "Ada", "email": "ada@example.com"}),
                ),
                (
                    "CustomerUpdated",
                    json!({"name": "Ada", "email": "ada@lovelace.org"}),
                ),
            ])
        };
        stored().then_state(Customer {
            status: Status::Active,
            name: "Ada".into(),
            email: "ada@lovelace.org".into(),
        });
        stored()
            .when(CustomerCommand::Update {
                name: Some("Ada L.".into()),
                email: Some("ada@lovelace.org".into()),
            })
            .then_events([customers::CustomerEvent::CustomerRenamed {
                name: "Ada L.".into(),
            }]);
        stored()
            .when(CustomerCommand::Create {
                name: "Ada".into(),
                email: "ada@example.com".into(),
            })
            .then_rejected("already exists");
        // A stream of both shapes: the v2 events are read as stored.
        given_stored::<CustomersUpcaster, Customers>([
            (
                "CustomerCreated",
                json!({"name": "Ada", "email": "ada@example.com"}),
            ),
            ("CustomerRenamed", json!({"name": "Ada L."})),
            ("CustomerDeleted", json!(null)),
        ])
        .then_state(Customer {
            status: Status::Deleted,
            name: "Ada L.".into(),
            email: "ada@example.com".into(),
        })
        .when(CustomerCommand::Delete)
        .then_rejected("deleted");
    }
}
