//! cairn-sdk: write cairn aggregates, projections, upcasters and reactors in plain Rust.
//!
//! An aggregate is three serde types and two functions:
//!
//! ```
//! use cairn_sdk::{Aggregate, Rejection};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Counter { value: u64 }
//!
//! #[derive(Deserialize)]
//! #[serde(tag = "type", content = "data")]
//! pub enum CounterCommand { Add { by: u64 } }
//!
//! #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! #[serde(tag = "type", content = "data")]
//! pub enum CounterEvent { Added { by: u64 } }
//!
//! pub struct CounterAggregate;
//!
//! impl Aggregate for CounterAggregate {
//!     type State = Counter;
//!     type Command = CounterCommand;
//!     type Event = CounterEvent;
//!
//!     fn decide(_: &Counter, command: CounterCommand) -> Result<Vec<CounterEvent>, Rejection> {
//!         match command {
//!             CounterCommand::Add { by: 0 } => Err(Rejection::new("add at least 1")),
//!             CounterCommand::Add { by } => Ok(vec![CounterEvent::Added { by }]),
//!         }
//!     }
//!
//!     fn evolve(state: &mut Counter, event: &CounterEvent) {
//!         match event {
//!             CounterEvent::Added { by } => state.value += by,
//!         }
//!     }
//! }
//!
//! // In the module's crate (crate-type = ["cdylib", "rlib"]):
//! // cairn_sdk::export_aggregate!(CounterAggregate);
//! ```
//!
//! Commands and events cross into the host as a type name and JSON data, so their enums are
//! adjacently tagged: `#[serde(tag = "type", content = "data")]`. A `Deposited { amount: 5 }`
//! event is stored as type `Deposited` with data `{"amount":5}`.
//!
//! Layout:
//! - `aggregate.rs`: the [`Aggregate`] trait and [`Rejection`].
//! - `glue.rs`: what the exported functions do, in plain Rust types, so it runs natively too.
//! - `export.rs`: [`export_aggregate!`], which exports an aggregate as a component.
//! - `projection.rs`: the [`Projection`] trait, [`Recorded`] events, [`Subscription`].
//! - `read_model.rs`: [`ReadModel`], a projection's key-value table with JSON helpers, over the
//!   host's table or (in tests) a map in memory.
//! - `projection_glue.rs`: what an exported projection does; [`export_projection!`] exports it.
//! - `upcaster.rs`: the [`Upcaster`] trait (events stored in an older shape, read as the
//!   current one), [`StoredEvent`], [`UpcastError`].
//! - `upcaster_glue.rs`: what an exported upcaster does; [`export_upcaster!`] exports it.
//! - `reactor.rs`: the [`Reactor`] trait (events to commands), [`Intent`], [`ReactorError`].
//! - `reactor_glue.rs`: what an exported reactor does; [`export_reactor!`] exports it.
//! - `log.rs`: [`log`], writing to the host's log.
//! - `testing.rs`: given/when/then tests that run natively through the same glue; `testing/`
//!   holds those of projections, upcasters and reactors.
//! - `bindings.rs`: the generated bindings, hidden.
//!
//! - `allocator.rs`: [`allocator::ModuleAllocator`], the heap the SDK installs in every module
//!   (size classes; every call runs in a fresh instance, so it starts empty each time).

extern crate self as cairn_sdk;

mod aggregate;
pub mod allocator;
#[doc(hidden)]
pub mod bindings;
mod export;
#[doc(hidden)]
pub mod glue;
pub mod log;
mod projection;
#[doc(hidden)]
pub mod projection_glue;
mod reactor;
#[doc(hidden)]
pub mod reactor_glue;
pub mod read_model;
pub mod testing;
mod upcaster;
#[doc(hidden)]
pub mod upcaster_glue;

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: allocator::ModuleAllocator = allocator::ModuleAllocator::new();

pub use aggregate::{Aggregate, Rejection};
pub use projection::{Projection, ProjectionError, Recorded, Subscription};
pub use reactor::{Intent, Reactor, ReactorError};
pub use read_model::ReadModel;
pub use upcaster::{StoredEvent, UpcastError, Upcaster};

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;
