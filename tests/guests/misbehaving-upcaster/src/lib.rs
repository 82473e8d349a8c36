//! An upcaster of the `ledger` category that misbehaves on command, for the runtime's tests. It
//! implements the generated interface directly, below the SDK, so it can return what the SDK
//! never would (data that is not JSON, a type that is not a name).
//!
//! What each stored type upcasts to:
//! - `Trap`: nothing, it panics;
//! - `Loop`: nothing, it loops until its fuel runs out;
//! - `Garbage`: a `Garbage` event whose data is not JSON;
//! - `BadType`: an event whose type is empty, which is not a name;
//! - `Split`: two events, `Part {"n":1}` and `Part {"n":2}`;
//! - `Drop`: no event;
//! - `Renamed`: one `Current` event with the stored data.
//!
//! Any other type is an error at its index (the host never passes one).

#[cfg(target_arch = "wasm32")]
mod guest {
    use cairn_sdk::bindings::upcaster::cairn::module::types::Event;
    use cairn_sdk::bindings::upcaster::exports::cairn::module::upcaster::{
        Guest, UpcastError, UpgradedEvents,
    };

    /// The stored types it upgrades.
    const EVENT_TYPES: [&str; 7] = [
        "Trap", "Loop", "Garbage", "BadType", "Split", "Drop", "Renamed",
    ];

    pub struct MisbehavingUpcaster;

    impl Guest for MisbehavingUpcaster {
        fn upgrades() -> UpgradedEvents {
            UpgradedEvents {
                category: "ledger".into(),
                event_types: EVENT_TYPES.iter().map(|&t| t.to_owned()).collect(),
            }
        }

        fn upcast(events: Vec<Event>) -> Result<Vec<Vec<Event>>, UpcastError> {
            let event = |event_type: &str, data: &str| Event {
                event_type: event_type.into(),
                data: data.into(),
            };
            let mut upcast = Vec::with_capacity(events.len());
            for (index, stored) in events.into_iter().enumerate() {
                upcast.push(match stored.event_type.as_str() {
                    "Trap" => panic!("deliberate panic in upcast"),
                    "Loop" => loop {
                        std::hint::black_box(0);
                    },
                    "Garbage" => vec![event("Garbage", "{not json")],
                    "BadType" => vec![event("", "{}")],
                    "Split" => vec![event("Part", r#"{"n":1}"#), event("Part", r#"{"n":2}"#)],
                    "Drop" => Vec::new(),
                    "Renamed" => vec![event("Current", &stored.data)],
                    other => {
                        return Err(UpcastError {
                            index: u32::try_from(index).unwrap_or(u32::MAX),
                            message: format!("{other} is not upgraded here"),
                        });
                    }
                });
            }
            Ok(upcast)
        }
    }

    cairn_sdk::bindings::upcaster::__export_upcaster_world!(MisbehavingUpcaster with_types_in cairn_sdk::bindings::upcaster);
}
