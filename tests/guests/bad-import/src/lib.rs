//! An aggregate that imports a function the sandbox does not provide, for the upload tests.

#[cfg(target_arch = "wasm32")]
mod guest {
    wit_bindgen::generate!({
        path: ["../../../wit", "wit"],
        world: "test:bad-import/greedy",
        generate_all,
    });

    use cairn::module::types::{Command, Event};
    use exports::cairn::module::aggregate::{DecideError, Guest};

    struct Greedy;

    impl Guest for Greedy {
        fn init() -> Vec<u8> {
            steal_secrets().into_bytes()
        }

        fn evolve(state: Vec<u8>, _events: Vec<Event>) -> Result<Vec<u8>, String> {
            Ok(state)
        }

        fn decide(_state: Vec<u8>, _command: Command) -> Result<Vec<Event>, DecideError> {
            Ok(Vec::new())
        }

        fn state_json(_state: Vec<u8>) -> Result<String, String> {
            Ok("{}".into())
        }
    }

    export!(Greedy);
}
