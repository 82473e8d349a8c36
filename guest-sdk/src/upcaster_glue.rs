//! What an exported upcaster does, in plain Rust types: the export macro converts the generated
//! bindings' types to and from these, and the testing harness calls them directly. Events cross
//! as `(type name, JSON data)`, encoded as [`glue`](crate::glue) encodes an aggregate's.

use crate::glue::{Tagged, encode_tagged};
use crate::upcaster::{StoredEvent, Upcaster};

/// The category `U` reads and the stored event types it upgrades.
pub fn upgrades<U: Upcaster>() -> (String, Vec<String>) {
    (
        U::CATEGORY.to_owned(),
        U::EVENT_TYPES.iter().map(|&t| t.to_owned()).collect(),
    )
}

/// The events readers see in place of each of `events`, one list for each, in order. On an
/// error, returns the index of the event that failed and why. An event of a type `U` does not
/// upgrade is an error: the host passes only those of `U::EVENT_TYPES`.
pub fn upcast<U: Upcaster>(
    events: impl IntoIterator<Item = Tagged>,
) -> Result<Vec<Vec<Tagged>>, (u32, String)> {
    let events = events.into_iter();
    let mut upcast = Vec::with_capacity(events.size_hint().0);
    for (index, (event_type, data)) in events.enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        if !U::EVENT_TYPES.contains(&event_type.as_str()) {
            return Err((
                index,
                format!(
                    "{event_type} is not an event type this upcaster upgrades ({})",
                    U::EVENT_TYPES.join(", ")
                ),
            ));
        }
        let stored = StoredEvent::new(event_type, data);
        let current = U::upcast(&stored).map_err(|e| (index, e.message().to_owned()))?;
        let current = current
            .iter()
            .map(encode_tagged)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| (index, message))?;
        upcast.push(current);
    }
    Ok(upcast)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::{upcast, upgrades};
    use crate::{StoredEvent, UpcastError, Upcaster};

    #[derive(Serialize)]
    #[serde(tag = "type", content = "data")]
    enum Current {
        Named { name: String },
        Emailed { email: String },
        Cleared,
    }

    /// `Both` splits in two, `Gone` drops, `Empty` becomes a unit variant, `Broken` fails.
    struct Split;

    impl Upcaster for Split {
        const CATEGORY: &'static str = "people";
        const EVENT_TYPES: &'static [&'static str] = &["Both", "Gone", "Empty", "Broken"];
        type Event = Current;

        fn upcast(stored: &StoredEvent) -> Result<Vec<Current>, UpcastError> {
            #[derive(Deserialize)]
            struct Both {
                name: String,
                email: String,
            }
            match stored.event_type() {
                "Both" => {
                    let Both { name, email } = stored.data()?;
                    Ok(vec![Current::Named { name }, Current::Emailed { email }])
                }
                "Gone" => Ok(Vec::new()),
                "Empty" => Ok(vec![Current::Cleared]),
                _ => Err("broken on purpose".into()),
            }
        }
    }

    fn tagged(event_type: &str, data: &str) -> (String, String) {
        (event_type.to_owned(), data.to_owned())
    }

    #[test]
    fn names_its_category_and_types() {
        assert_eq!(
            upgrades::<Split>(),
            (
                "people".to_owned(),
                vec![
                    "Both".into(),
                    "Gone".into(),
                    "Empty".into(),
                    "Broken".into()
                ]
            )
        );
    }

    #[test]
    fn gives_one_list_for_each_event_encoded_as_an_aggregates_events() {
        let lists = upcast::<Split>([
            tagged("Both", r#"{"name":"Ada","email":"ada@example.com"}"#),
            tagged("Gone", "null"),
            tagged("Empty", "{}"),
        ])
        .expect("upcasts");
        assert_eq!(
            lists,
            [
                vec![
                    tagged("Named", r#"{"name":"Ada"}"#),
                    tagged("Emailed", r#"{"email":"ada@example.com"}"#)
                ],
                vec![],
                vec![tagged("Cleared", "null")],
            ]
        );
        assert_eq!(upcast::<Split>([]), Ok(vec![]));
    }

    #[test]
    fn a_failure_names_the_event_at_which_it_stopped() {
        assert_eq!(
            upcast::<Split>([tagged("Gone", "null"), tagged("Broken", "{}")]),
            Err((1, "broken on purpose".to_owned()))
        );
        let (index, message) =
            upcast::<Split>([tagged("Both", r#"{"name":"Ada"}"#)]).expect_err("no email");
        assert_eq!(index, 0);
        assert!(
            message.contains("the stored Both does not decode") && message.contains("email"),
            "{message}"
        );
    }

    #[test]
    fn an_event_of_a_type_it_does_not_upgrade_is_refused_by_name() {
        let (index, message) = upcast::<Split>([tagged("Gone", "null"), tagged("Named", "{}")])
            .expect_err("not upgraded");
        assert_eq!(index, 1);
        assert!(
            message.starts_with("Named is not an event type this upcaster upgrades"),
            "{message}"
        );
    }
}
