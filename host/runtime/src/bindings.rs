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
        // `apply` takes events whose texts borrow from the store's events: no copy of each.
        ownership: Borrowing { duplicate_if_necessary: true },
        with: {
            "cairn:module/log": crate::bindings::aggregate::cairn::module::log,
        },
    });
}
