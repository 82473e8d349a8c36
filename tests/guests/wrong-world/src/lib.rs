//! A valid component that implements some other world, for the upload tests.

#[cfg(target_arch = "wasm32")]
mod guest {
    wit_bindgen::generate!({ path: "wit", world: "calculator" });

    struct Calculator;

    impl Guest for Calculator {
        fn add(a: u32, b: u32) -> u32 {
            a.wrapping_add(b)
        }
    }

    export!(Calculator);
}
