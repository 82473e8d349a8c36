//! Projections: the loaded projection module, the read model it sees during a call, and the
//! runner that folds the global log into read models.
//!
//! Events flow through it like this: the runner (`runner/`) reads a batch from the log and
//! passes it to `projection.rs`, whose `apply` call reads and writes the read model through the
//! `kv` import (`kv_session.rs`); the session lays the batch's writes over the committed model
//! (`model_overlay.rs`), and the runner commits them with the batch's checkpoint.
//!
//! - `projection.rs`: [`LoadedProjection`](crate::LoadedProjection), a projection module and
//!   its calls.
//! - `kv_session.rs`: its read model during a call, behind the `kv` import.
//! - `model_overlay.rs`: uncommitted writes laid over a committed read model.
//! - `runner/`: [`Projections`](crate::Projections), which runs every projection over the log,
//!   builds new versions and resets beside the serving one, keeps that lifecycle across
//!   restarts, and answers queries.

pub(crate) mod kv_session;
pub(crate) mod model_overlay;
pub(crate) mod projection;
pub(crate) mod runner;
