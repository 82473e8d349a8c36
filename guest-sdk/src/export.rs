//! The export macros: an aggregate ([`export_aggregate!`](crate::export_aggregate)), a
//! projection ([`export_projection!`](crate::export_projection)), an upcaster
//! ([`export_upcaster!`](crate::export_upcaster)) or a reactor
//! ([`export_reactor!`](crate::export_reactor)), exported as a component.

/// Exports `$aggregate` (a type implementing [`Aggregate`](crate::Aggregate)) as the
/// `aggregate` interface of the `aggregate-module` world. Invoke it once, in the module's crate.
///
/// The exports exist only when building for WebAssembly: their symbol names (such as
/// `cairn:module/aggregate@0.1.0#decide`) mean nothing to a native linker, and native builds
/// are for tests, which call the same glue directly.
#[macro_export]
macro_rules! export_aggregate {
    ($aggregate:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        pub struct __CairnAggregateExport;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::aggregate::exports::cairn::module::aggregate as exports;
            use $crate::bindings::aggregate::cairn::module::types::{Command, Event};

            impl exports::Guest for __CairnAggregateExport {
                fn init() -> ::std::vec::Vec<u8> {
                    $crate::glue::init::<$aggregate>()
                }

                fn evolve(
                    state: ::std::vec::Vec<u8>,
                    events: ::std::vec::Vec<Event>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    $crate::glue::evolve::<$aggregate>(
                        &state,
                        events.into_iter().map(|e| (e.event_type, e.data)),
                    )
                }

                fn decide(
                    state: ::std::vec::Vec<u8>,
                    command: Command,
                ) -> ::std::result::Result<::std::vec::Vec<Event>, exports::DecideError> {
                    match $crate::glue::decide::<$aggregate>(&state, &command.command_type, &command.data) {
                        Ok(events) => Ok(events
                            .into_iter()
                            .map(|(event_type, data)| Event { event_type, data })
                            .collect()),
                        Err($crate::glue::DecideError::Rejected(m)) => Err(exports::DecideError::Rejected(m)),
                        Err($crate::glue::DecideError::Invalid(m)) => Err(exports::DecideError::Invalid(m)),
                    }
                }

                fn state_json(
                    state: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::string::String, ::std::string::String> {
                    $crate::glue::state_json::<$aggregate>(&state)
                }
            }
        };

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::aggregate::__export_aggregate_world!(__CairnAggregateExport with_types_in $crate::bindings::aggregate);
    };
}

/// Exports `$projection` (a type implementing [`Projection`](crate::Projection)) as the
/// `projection` interface of the `projection-module` world. Invoke it once, in the module's
/// crate. Like [`export_aggregate!`](crate::export_aggregate), it exports only on WebAssembly.
#[macro_export]
macro_rules! export_projection {
    ($projection:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        pub struct __CairnProjectionExport;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::projection::exports::cairn::module::projection as exports;

            impl exports::Guest for __CairnProjectionExport {
                fn subscription() -> exports::Filter {
                    let s = $crate::projection_glue::subscription::<$projection>();
                    exports::Filter {
                        categories: s.categories,
                        event_types: s.event_types,
                    }
                }

                fn apply(
                    events: ::std::vec::Vec<exports::RecordedEvent>,
                ) -> ::std::result::Result<(), exports::ApplyError> {
                    // Room for about two writes an event, so the map rarely grows mid-batch.
                    let mut kv = $crate::read_model::HostKv::with_capacity(events.len() * 2);
                    let events = events.into_iter().map(|e| $crate::projection_glue::RawEvent {
                        stream: e.stream_name,
                        version: e.version,
                        position: e.position,
                        event_type: e.event_type,
                        data: e.data,
                        metadata: e.metadata,
                        recorded_at: e.recorded_at,
                    });
                    // The writes go to the host in one call, and only if the batch is taken.
                    let applied = $crate::projection_glue::apply::<$projection>(&mut kv, events);
                    if applied.is_ok() {
                        kv.flush();
                    }
                    applied.map_err(|(index, message)| exports::ApplyError { index, message })
                }

                fn query(
                    request: ::std::string::String,
                ) -> ::std::result::Result<::std::string::String, ::std::string::String> {
                    $crate::projection_glue::query::<$projection>(&mut $crate::read_model::HostKv::default(), &request)
                }
            }
        };

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::projection::__export_projection_world!(__CairnProjectionExport with_types_in $crate::bindings::projection);
    };
}

/// Exports `$upcaster` (a type implementing [`Upcaster`](crate::Upcaster)) as the `upcaster`
/// interface of the `upcaster-module` world. Invoke it once, in the module's crate. Like
/// [`export_aggregate!`](crate::export_aggregate), it exports only on WebAssembly.
#[macro_export]
macro_rules! export_upcaster {
    ($upcaster:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        pub struct __CairnUpcasterExport;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::upcaster::cairn::module::types::Event;
            use $crate::bindings::upcaster::exports::cairn::module::upcaster as exports;

            impl exports::Guest for __CairnUpcasterExport {
                fn upgrades() -> exports::UpgradedEvents {
                    let (category, event_types) = $crate::upcaster_glue::upgrades::<$upcaster>();
                    exports::UpgradedEvents {
                        category,
                        event_types,
                    }
                }

                fn upcast(
                    events: ::std::vec::Vec<Event>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<::std::vec::Vec<Event>>,
                    exports::UpcastError,
                > {
                    let events = events.into_iter().map(|e| (e.event_type, e.data));
                    match $crate::upcaster_glue::upcast::<$upcaster>(events) {
                        Ok(lists) => Ok(lists
                            .into_iter()
                            .map(|list| {
                                list.into_iter()
                                    .map(|(event_type, data)| Event { event_type, data })
                                    .collect()
                            })
                            .collect()),
                        Err((index, message)) => Err(exports::UpcastError { index, message }),
                    }
                }
            }
        };

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::upcaster::__export_upcaster_world!(__CairnUpcasterExport with_types_in $crate::bindings::upcaster);
    };
}

/// Exports `$reactor` (a type implementing [`Reactor`](crate::Reactor)) as the `reactor`
/// interface of the `reactor-module` world. Invoke it once, in the module's crate. Like
/// [`export_aggregate!`](crate::export_aggregate), it exports only on WebAssembly.
#[macro_export]
macro_rules! export_reactor {
    ($reactor:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        pub struct __CairnReactorExport;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::reactor::exports::cairn::module::reactor as exports;

            impl exports::Guest for __CairnReactorExport {
                fn subscription() -> exports::Filter {
                    let s = $crate::reactor_glue::subscription::<$reactor>();
                    exports::Filter {
                        categories: s.categories,
                        event_types: s.event_types,
                    }
                }

                fn react(
                    event: exports::RecordedEvent,
                ) -> ::std::result::Result<::std::vec::Vec<exports::Intent>, ::std::string::String> {
                    let mut kv = $crate::read_model::HostKv::default();
                    let raw = $crate::projection_glue::RawEvent {
                        stream: event.stream_name,
                        version: event.version,
                        position: event.position,
                        event_type: event.event_type,
                        data: event.data,
                        metadata: event.metadata,
                        recorded_at: event.recorded_at,
                    };
                    // The writes go to the host in one call, and only if the event is taken.
                    let intents = $crate::reactor_glue::react::<$reactor>(&mut kv, raw)?;
                    kv.flush();
                    Ok(intents
                        .into_iter()
                        .map(|i| exports::Intent {
                            module: i.module,
                            id: i.id,
                            command_type: i.command_type,
                            data: i.data,
                        })
                        .collect())
                }
            }
        };

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::reactor::__export_reactor_world!(__CairnReactorExport with_types_in $crate::bindings::reactor);
    };
}
