//! What every module call shares, whatever its world: a store made for the call, and the
//! call's failure named as a [`CallError`].

use std::sync::Arc;

use wasmtime::{Engine, Store, Trap};

use crate::error::CallError;
use crate::limits::Limits;
use crate::sandbox::{self, CallInput, DeadlineExceeded, Sandbox};

/// A fresh store for one call of module `label`, with `fuel`.
pub(crate) fn call_store(
    engine: &Engine,
    label: &Arc<str>,
    input: CallInput,
    limits: &Limits,
    fuel: u64,
) -> Result<Store<Sandbox>, CallError> {
    sandbox::new_store(engine, Arc::clone(label), input, limits, fuel).map_err(|e| {
        CallError::Trap {
            message: format!("the sandbox could not be set up: {e}"),
        }
    })
}

/// Logs the call's output and turns a failure into a [`CallError`].
pub(crate) fn finish_call<T>(
    store: &Store<Sandbox>,
    fuel: u64,
    limits: &Limits,
    result: wasmtime::Result<T>,
) -> Result<T, CallError> {
    store.data().flush_output();
    result.map_err(|error| {
        let error = classify(error, store, fuel, limits);
        tracing::warn!(module = %store.data().module, %error, "call failed");
        error
    })
}

/// Names what went wrong in a call.
pub(crate) fn classify(
    error: wasmtime::Error,
    store: &Store<Sandbox>,
    fuel: u64,
    limits: &Limits,
) -> CallError {
    if store.data().memory_exceeded() {
        return CallError::OutOfMemory {
            limit: limits.memory_bytes,
        };
    }
    if error.is::<DeadlineExceeded>() {
        return CallError::DeadlineExceeded {
            deadline: limits.deadline,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CallError::OutOfFuel { fuel },
        Some(Trap::StackOverflow) => CallError::StackOverflow,
        Some(Trap::Interrupt) => CallError::DeadlineExceeded {
            deadline: limits.deadline,
        },
        _ => CallError::Trap {
            message: format!("{error:#}"),
        },
    }
}
