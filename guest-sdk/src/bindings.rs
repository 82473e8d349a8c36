//! The generated bindings, from the worlds in `wit/` (read, never copied).

/// The `aggregate-module` world.
pub mod aggregate {
    wit_bindgen::generate!({
        path: "../wit",
        world: "aggregate-module",
        runtime_path: "cairn_sdk::__wit_bindgen::rt",
        default_bindings_module: "cairn_sdk::bindings::aggregate",
        export_macro_name: "__export_aggregate_world",
        pub_export_macro: true,
    });
}

/// The `projection-module` world.
pub mod projection {
    wit_bindgen::generate!({
        path: "../wit",
        world: "projection-module",
        runtime_path: "cairn_sdk::__wit_bindgen::rt",
        default_bindings_module: "cairn_sdk::bindings::projection",
        export_macro_name: "__export_projection_world",
        pub_export_macro: true,
    });
}

/// The `upcaster-module` world.
pub mod upcaster {
    wit_bindgen::generate!({
        path: "../wit",
        world: "upcaster-module",
        runtime_path: "cairn_sdk::__wit_bindgen::rt",
        default_bindings_module: "cairn_sdk::bindings::upcaster",
        export_macro_name: "__export_upcaster_world",
        pub_export_macro: true,
    });
}

/// The `reactor-module` world.
pub mod reactor {
    wit_bindgen::generate!({
        path: "../wit",
        world: "reactor-module",
        runtime_path: "cairn_sdk::__wit_bindgen::rt",
        default_bindings_module: "cairn_sdk::bindings::reactor",
        export_macro_name: "__export_reactor_world",
        pub_export_macro: true,
    });
}
