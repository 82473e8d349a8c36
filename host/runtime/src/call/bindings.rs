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
        // A read of the read model that the store fails stops the call at once, as the host's
        // fault (`kv_session.rs`).
        imports: {
            "cairn:module/kv.get": trappable,
            "cairn:module/kv.scan": trappable,
        },
        // `apply` takes events whose texts borrow from the store's events: no copy of each.
        ownership: Borrowing { duplicate_if_necessary: true },
        with: {
            "cairn:module/log": crate::call::bindings::aggregate::cairn::module::log,
        },
    });
}

pub(crate) mod reactor {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "reactor-module",
        exports: { default: async },
        // The `kv` import is the projection's, trappable reads and all.
        ownership: Borrowing { duplicate_if_necessary: true },
        with: {
            "cairn:module/log": crate::call::bindings::aggregate::cairn::module::log,
            "cairn:module/kv": crate::call::bindings::projection::cairn::module::kv,
        },
    });
}

pub(crate) mod upcaster {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "upcaster-module",
        exports: { default: async },
        with: {
            "cairn:module/log": crate::call::bindings::aggregate::cairn::module::log,
            "cairn:module/types": crate::call::bindings::aggregate::cairn::module::types,
        },
    });
}
