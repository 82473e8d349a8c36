//! The store against an in-memory reference model (a proptest state machine): random appends
//! with every expected-version kind, exact and partial retries, reads of streams and of the
//! global log with filters, scan limits and byte budgets, listings of streams by prefix, snapshots, read models (commits with
//! checkpoints, drops and scans), and closing and reopening the store between steps. After
//! each step the store must answer exactly as the model does.
//!
//! - `transition.rs`: what a step is and what it must return.
//! - `reference.rs`: the model, the store's behaviour written out plainly in memory.
//! - `machine.rs`: the reference state machine, drawing steps from the model's state.
//! - `system.rs`: the store under test, stepped on a backend and checked against the model.

mod machine;
mod reference;
mod system;
mod transition;

use proptest::test_runner::{Config, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use crate::Backend;
use machine::StoreReference;
use system::StoreModelTest;

/// EventLog promises 1–6, Snapshots promises 1–2 and ReadModels promises 1–2, against the
/// model: [`Backend::MODEL_CASES`] random histories (1,000 unless the backend says) of 1 to 23
/// steps, each step answered exactly as the model
/// answers it, with the store closed and opened again ([`Backend::close`], [`Backend::open`])
/// between some steps. Builds its own runtime, so it is a plain `#[test]`.
pub fn store_behaves_like_the_model<B: Backend>() {
    let config = Config {
        cases: B::MODEL_CASES,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(
        &StoreReference::sequential_strategy(1..24),
        |(initial, transitions, seen)| {
            StoreModelTest::<B>::test_sequential(config.clone(), initial, transitions, seen);
            Ok(())
        },
    );
    if let Err(failure) = result {
        panic!("{failure}\n{runner}");
    }
}
