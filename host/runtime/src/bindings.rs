//! Host bindings generated from `wit/` (read, never copied).

pub(crate) mod aggregate {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "aggregate-module",
        exports: { default: async },
    });
}

pub(crate) mod projection {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "projection-module",
        exports: { default: async },
        with: {
            "cairn:module/log": crate::bindings::aggregate::cairn::module::log,
        },
    });
}
