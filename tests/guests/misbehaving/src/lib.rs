//! An aggregate that misbehaves on command, for the runtime's tests. It implements the
//! generated interface directly, below the SDK, so it can return what the SDK never would.
//!
//! Commands: `Loop`, `Bomb` (memory), `Panic`, `Recurse` (the engine's stack), `Smash` (Rust's
//! shadow stack in linear memory), `Garbage` (invalid JSON data),
//! `BadType` (an invalid event type), `Entropy` (reads the clock and randomness), and `Fine`.
//! The state is the number of events folded, as JSON.

#[cfg(target_arch = "wasm32")]
mod guest {
    use std::hash::{BuildHasher, Hasher};

    use cairn_sdk::bindings::aggregate::cairn::module::types::{Command, Event};
    use cairn_sdk::bindings::aggregate::exports::cairn::module::aggregate::{DecideError, Guest};

    pub struct Misbehaving;

    impl Guest for Misbehaving {
        fn init() -> Vec<u8> {
            b"0".to_vec()
        }

        fn evolve(state: Vec<u8>, events: Vec<Event>) -> Result<Vec<u8>, String> {
            let count: u64 = std::str::from_utf8(&state)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("state is not a count")?;
            Ok((count + events.len() as u64).to_string().into_bytes())
        }

        fn decide(_state: Vec<u8>, command: Command) -> Result<Vec<Event>, DecideError> {
            let event = |event_type: &str, data: String| Event {
                event_type: event_type.into(),
                data,
            };
            match command.command_type.as_str() {
                "Loop" => loop {
                    std::hint::black_box(0);
                },
                "Bomb" => {
                    // Reserve without touching, so memory, not fuel, runs out first.
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(Vec::with_capacity(16 << 20));
                        std::hint::black_box(&hoard);
                    }
                }
                "Panic" => panic!("deliberate panic in decide"),
                "Recurse" => Ok(vec![event("Deep", deep(1).to_string())]),
                "Smash" => Ok(vec![event("Deep", smash(1).to_string())]),
                "Garbage" => Ok(vec![event("Garbage", "{not json".into())]),
                "BadType" => Ok(vec![event("bad\ntype", "{}".into())]),
                "Entropy" => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                    // RandomState is keyed from the host's random source.
                    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
                    hasher.write_u64(42);
                    let random = hasher.finish();
                    Ok(vec![event(
                        "Entropy",
                        format!(r#"{{"now":{now},"random":{random}}}"#),
                    )])
                }
                "Fine" => Ok(vec![event("Fined", "{}".into())]),
                other => Err(DecideError::Invalid(format!("unknown command {other}"))),
            }
        }

        fn state_json(state: Vec<u8>) -> Result<String, String> {
            String::from_utf8(state).map_err(|e| e.to_string())
        }
    }

    /// Recursion on WebAssembly's own stack: nothing is address-taken, so every frame is
    /// native, and the engine's stack limit stops it.
    #[allow(
        unconditional_recursion,
        reason = "it recurses until the stack runs out, on purpose"
    )]
    fn deep(n: u64) -> u64 {
        std::hint::black_box(deep(std::hint::black_box(n + 1))) ^ n
    }

    /// Recursion on Rust's shadow stack in linear memory (the array's address is taken): it
    /// runs off the bottom of memory and faults.
    #[allow(
        unconditional_recursion,
        reason = "it recurses until memory runs out, on purpose"
    )]
    fn smash(n: u64) -> u64 {
        let frame = std::hint::black_box([n; 32]);
        smash(n + 1).wrapping_add(frame[7])
    }

    cairn_sdk::bindings::aggregate::__export_aggregate_world!(Misbehaving with_types_in cairn_sdk::bindings::aggregate);
}
