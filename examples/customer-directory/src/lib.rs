//! A customer directory, projected from the `customers` aggregate's events: customers listed by
//! status (active or deleted) with paging, looked up by email, and counted. A KTable keyed by
//! customer answers "customer c1"; this also answers "which customers were deleted".
//!
//! It reads the events' second shape only: the host passes the stored events of the first
//! (`CustomerCreated`, `CustomerUpdated`) through the `customers_upcaster` module before they
//! reach it.
//!
//! Read model keys:
//! - `customer/{id}`: the customer, as JSON;
//! - `status/{status}/{id}`: an index for listing by status, in id order;
//! - `email/{email}`: the id of the customer with that email;
//! - `count/{status}`: how many customers have that status.

use cairn_sdk::{Projection, ProjectionError, ReadModel, Recorded, Subscription};
use serde::{Deserialize, Serialize};

/// The `customers` events this projection reads (its own view of them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CustomerEvent {
    CustomerRegistered { name: String, email: String },
    CustomerRenamed { name: String },
    CustomerEmailChanged { email: String },
    CustomerDeleted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Deleted,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Deleted => "deleted",
        }
    }
}

/// A customer in the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: Status,
}

/// What the directory answers. Requests are JSON such as `{"type": "list", "status":
/// "deleted"}`, `{"type": "by_email", "email": "ada@example.com"}` or `{"type": "count"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DirectoryQuery {
    /// Customers with `status`, in id order: at most `limit` (default 50, at most 500), after
    /// the id `after`.
    List {
        status: Status,
        #[serde(default)]
        after: Option<String>,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// The customer with this email, if any.
    ByEmail { email: String },
    /// How many customers are active and deleted.
    Count,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DirectoryAnswer {
    /// A page of customers, and the id to pass as `after` for the next (none at the end).
    Page {
        customers: Vec<Customer>,
        next: Option<String>,
    },
    Customer(Option<Customer>),
    Count {
        active: i64,
        deleted: i64,
    },
}

pub struct CustomerDirectory;

impl Projection for CustomerDirectory {
    type Event = CustomerEvent;
    type Query = DirectoryQuery;
    type Answer = DirectoryAnswer;

    fn subscription() -> Subscription {
        Subscription::category("customers")
    }

    fn apply(
        model: &mut ReadModel<'_>,
        event: Recorded<CustomerEvent>,
    ) -> Result<(), ProjectionError> {
        let id = event.id().to_owned();
        let existing: Option<Customer> = model.get_json(&customer_key(&id))?;
        match event.event {
            CustomerEvent::CustomerRegistered { name, email } => {
                if existing.is_some() {
                    return Ok(()); // the aggregate creates once; an old duplicate changes nothing
                }
                let customer = Customer {
                    id,
                    name,
                    email,
                    status: Status::Active,
                };
                model.add(&count_key(Status::Active), 1)?;
                save(model, None, &customer)
            }
            CustomerEvent::CustomerRenamed { name } => {
                let Some(old) = existing else {
                    return Err(
                        format!("{} was renamed before it was registered", event.stream).into(),
                    );
                };
                let customer = Customer {
                    name,
                    ..old.clone()
                };
                save(model, Some(&old), &customer)
            }
            CustomerEvent::CustomerEmailChanged { email } => {
                let Some(old) = existing else {
                    return Err(format!(
                        "{} changed its email before it was registered",
                        event.stream
                    )
                    .into());
                };
                let customer = Customer {
                    email,
                    ..old.clone()
                };
                save(model, Some(&old), &customer)
            }
            CustomerEvent::CustomerDeleted => {
                let Some(old) = existing else {
                    return Err(
                        format!("{} was deleted before it was registered", event.stream).into(),
                    );
                };
                if old.status == Status::Deleted {
                    return Ok(());
                }
                let customer = Customer {
                    status: Status::Deleted,
                    ..old.clone()
                };
                model.add(&count_key(Status::Active), -1)?;
                model.add(&count_key(Status::Deleted), 1)?;
                save(model, Some(&old), &customer)
            }
        }
    }

    fn query(
        model: &ReadModel<'_>,
        query: DirectoryQuery,
    ) -> Result<DirectoryAnswer, ProjectionError> {
        match query {
            DirectoryQuery::List {
                status,
                after,
                limit,
            } => {
                let limit = limit.unwrap_or(50).clamp(1, 500);
                let prefix = format!("status/{}/", status.as_str());
                let after = after.map(|id| format!("{prefix}{id}"));
                // One more than the page tells whether there is a next page.
                let keys = model.scan(
                    prefix.as_bytes(),
                    after.as_deref().map(str::as_bytes),
                    limit + 1,
                );
                let mut customers = Vec::new();
                for (key, _) in keys.iter().take(limit as usize) {
                    let id = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                    let customer: Customer =
                        model.get_json(&customer_key(&id))?.ok_or_else(|| {
                            ProjectionError::new(format!("the index names a missing customer {id}"))
                        })?;
                    customers.push(customer);
                }
                let next = (keys.len() > limit as usize)
                    .then(|| customers.last().map(|c| c.id.clone()))
                    .flatten();
                Ok(DirectoryAnswer::Page { customers, next })
            }
            DirectoryQuery::ByEmail { email } => {
                let id: Option<String> = model.get_json(&email_key(&email))?;
                match id {
                    Some(id) => Ok(DirectoryAnswer::Customer(
                        model.get_json(&customer_key(&id))?,
                    )),
                    None => Ok(DirectoryAnswer::Customer(None)),
                }
            }
            DirectoryQuery::Count => Ok(DirectoryAnswer::Count {
                active: model.get_json(&count_key(Status::Active))?.unwrap_or(0),
                deleted: model.get_json(&count_key(Status::Deleted))?.unwrap_or(0),
            }),
        }
    }
}

/// Stores `customer` and moves its index entries from what `old` had.
fn save(
    model: &mut ReadModel<'_>,
    old: Option<&Customer>,
    customer: &Customer,
) -> Result<(), ProjectionError> {
    if let Some(old) = old {
        model.delete_key(&status_key(old.status, &old.id));
        if old.email != customer.email {
            model.delete_key(&email_key(&old.email));
        }
    }
    model.put_json(&status_key(customer.status, &customer.id), &())?;
    model.put_json(&email_key(&customer.email), &customer.id)?;
    model.put_json(&customer_key(&customer.id), customer)
}

// Keys are joined rather than `format!`ted: a replay makes several for every event.

fn customer_key(id: &str) -> String {
    ["customer/", id].concat()
}

fn status_key(status: Status, id: &str) -> String {
    ["status/", status.as_str(), "/", id].concat()
}

fn email_key(email: &str) -> String {
    let mut key = String::with_capacity("email/".len() + email.len());
    key.push_str("email/");
    if email
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        key.push_str(&email.to_lowercase());
    } else {
        key.push_str(email);
    }
    key
}

fn count_key(status: Status) -> String {
    ["count/", status.as_str()].concat()
}

cairn_sdk::export_projection!(CustomerDirectory);

#[cfg(test)]
mod tests {
    use cairn_sdk::testing::projection::given;

    use super::*;

    fn registered(name: &str, email: &str) -> CustomerEvent {
        CustomerEvent::CustomerRegistered {
            name: name.into(),
            email: email.into(),
        }
    }

    fn customer(id: &str, name: &str, email: &str, status: Status) -> Customer {
        Customer {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            status,
        }
    }

    fn list(status: Status, after: Option<&str>, limit: u32) -> DirectoryQuery {
        DirectoryQuery::List {
            status,
            after: after.map(str::to_owned),
            limit: Some(limit),
        }
    }

    #[test]
    fn lists_customers_by_status_with_paging() {
        given::<CustomerDirectory>([
            ("customers-c1", registered("Ada", "ada@example.com")),
            ("customers-c2", registered("Bob", "bob@example.com")),
            ("customers-c3", registered("Cy", "cy@example.com")),
            ("customers-c2", CustomerEvent::CustomerDeleted),
            ("customers-c3", CustomerEvent::CustomerDeleted),
        ])
        .then_query(
            list(Status::Deleted, None, 1),
            DirectoryAnswer::Page {
                customers: vec![customer("c2", "Bob", "bob@example.com", Status::Deleted)],
                next: Some("c2".into()),
            },
        )
        .then_query(
            list(Status::Deleted, Some("c2"), 1),
            DirectoryAnswer::Page {
                customers: vec![customer("c3", "Cy", "cy@example.com", Status::Deleted)],
                next: None,
            },
        )
        .then_query(
            list(Status::Active, None, 10),
            DirectoryAnswer::Page {
                customers: vec![customer("c1", "Ada", "ada@example.com", Status::Active)],
                next: None,
            },
        )
        .then_query(
            DirectoryQuery::Count,
            DirectoryAnswer::Count {
                active: 1,
                deleted: 2,
            },
        );
    }

    #[test]
    fn finds_customers_by_their_current_email() {
        given::<CustomerDirectory>([
            ("customers-c1", registered("Ada", "ada@example.com")),
            (
                "customers-c1",
                CustomerEvent::CustomerRenamed {
                    name: "Ada L.".into(),
                },
            ),
            (
                "customers-c1",
                CustomerEvent::CustomerEmailChanged {
                    email: "ada@lovelace.org".into(),
                },
            ),
        ])
        .then_query(
            DirectoryQuery::ByEmail {
                email: "ADA@lovelace.org".into(),
            },
            DirectoryAnswer::Customer(Some(customer(
                "c1",
                "Ada L.",
                "ada@lovelace.org",
                Status::Active,
            ))),
        )
        .then_query(
            DirectoryQuery::ByEmail {
                email: "ada@example.com".into(),
            },
            DirectoryAnswer::Customer(None),
        );
    }

    #[test]
    fn a_change_to_a_customer_never_registered_is_a_fault_at_that_event() {
        given::<CustomerDirectory>([
            ("customers-c1", registered("Ada", "ada@example.com")),
            (
                "customers-c9",
                CustomerEvent::CustomerRenamed { name: "X".into() },
            ),
        ])
        .then_fails_at(1, "customers-c9 was renamed before it was registered");
        given::<CustomerDirectory>([(
            "customers-c9",
            CustomerEvent::CustomerEmailChanged {
                email: "x@example.com".into(),
            },
        )])
        .then_fails_at(0, "customers-c9 changed its email before it was registered");
        given::<CustomerDirectory>([("customers-c9", CustomerEvent::CustomerDeleted)])
            .then_fails_at(0, "customers-c9 was deleted before it was registered");
    }

    #[test]
    fn a_rename_keeps_the_email_and_an_email_change_keeps_the_name() {
        given::<CustomerDirectory>([
            ("customers-c1", registered("Ada", "ada@example.com")),
            (
                "customers-c1",
                CustomerEvent::CustomerRenamed {
                    name: "Ada L.".into(),
                },
            ),
        ])
        .then_query(
            DirectoryQuery::ByEmail {
                email: "ada@example.com".into(),
            },
            DirectoryAnswer::Customer(Some(customer(
                "c1",
                "Ada L.",
                "ada@example.com",
                Status::Active,
            ))),
        );
        given::<CustomerDirectory>([
            ("customers-c1", registered("Ada", "ada@example.com")),
            (
                "customers-c1",
                CustomerEvent::CustomerEmailChanged {
                    email: "ada@lovelace.org".into(),
                },
            ),
        ])
        .then_query(
            list(Status::Active, None, 10),
            DirectoryAnswer::Page {
                customers: vec![customer("c1", "Ada", "ada@lovelace.org", Status::Active)],
                next: None,
            },
        )
        .then_query(
            DirectoryQuery::ByEmail {
                email: "ada@example.com".into(),
            },
            DirectoryAnswer::Customer(None),
        );
    }

    #[test]
    fn a_bad_query_is_refused_with_the_reason() {
        given::<CustomerDirectory>([])
            .then_query_fails(serde_json::json!({"type": "everything"}), "unknown variant");
    }
}
