//! Host bindings generated from `wit/` (read, never copied).

pub(crate) mod aggregate {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "aggregate-module",
        exports: { default: async },
    });
}
