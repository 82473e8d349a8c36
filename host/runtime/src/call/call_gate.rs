//! [`CallGate`]: how many calls of one loaded module may run at once.
//!
//! A module's calls run side by side until one of them runs out of fuel or CPU.
//! From then until [`PROBATION`] has passed without another such call, the module is on
//! probation: its calls take turns, one at a time in arrival order, on the slow lane. A guest
//! that loops, however many callers ask it to, then gets only the CPU time nothing else wants.
//!
//! The gate decides only when a call starts, never what it does: a call that waits its turn
//! gets the same fuel, the same input and so the same result.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a module's calls take turns after the last one that ran out of fuel or CPU.
pub(crate) const PROBATION: Duration = Duration::from_secs(10);

/// The gate of one loaded module (one version of it: a new upload starts with a fresh gate).
#[derive(Debug)]
pub(crate) struct CallGate {
    turns: Arc<Semaphore>,
    born: Instant,
    /// Milliseconds from `born` to the end of the last call that ran out of fuel or CPU, plus
    /// one; zero if none has.
    last_offence: AtomicU64,
    /// Calls that ran out of fuel or CPU, ever.
    offences: AtomicU64,
    /// Times a probation began (an offence while none was running).
    probations: AtomicU64,
}

/// What a loaded module's calls have done to its standing, for operators: how often it
/// offended (ran out of fuel or CPU), how often that put it on probation, and whether it is on
/// probation now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Probation {
    /// Whether the module's calls take turns on the slow lane now.
    pub active: bool,
    /// Calls that ran out of fuel or CPU since the module was loaded.
    pub offences: u64,
    /// Times a probation began since the module was loaded.
    pub started: u64,
}

impl CallGate {
    pub(crate) fn new() -> Self {
        Self {
            turns: Arc::new(Semaphore::new(1)),
            born: Instant::now(),
            last_offence: AtomicU64::new(0),
            offences: AtomicU64::new(0),
            probations: AtomicU64::new(0),
        }
    }

    /// The module's standing now.
    pub(crate) fn probation(&self) -> Probation {
        Probation {
            active: self.on_probation(),
            offences: self.offences.load(Ordering::Relaxed),
            started: self.probations.load(Ordering::Relaxed),
        }
    }

    /// Waits for a turn, which the call holds until it ends. Calls take turns only while the
    /// module is [on probation](Self::on_probation); otherwise they need none.
    pub(crate) async fn take_turn(&self) -> Option<OwnedSemaphorePermit> {
        // The semaphore is never closed, so acquiring fails only if that changes.
        Arc::clone(&self.turns).acquire_owned().await.ok()
    }

    /// Records that a call ran out of fuel or CPU (what counts: see `callee.rs`). Returns whether this put the module on probation, rather than prolonged it.
    pub(crate) fn offended(&self) -> bool {
        let now = Instant::now();
        let at = self.millis_at(now).saturating_add(1);
        let before = self.last_offence.swap(at, Ordering::Relaxed);
        self.offences.fetch_add(1, Ordering::Relaxed);
        let began = !self.was_on_probation(before, now);
        if began {
            self.probations.fetch_add(1, Ordering::Relaxed);
        }
        began
    }

    /// Whether a call ran out of fuel or CPU within the last [`PROBATION`].
    pub(crate) fn on_probation(&self) -> bool {
        self.on_probation_at(Instant::now())
    }

    fn on_probation_at(&self, now: Instant) -> bool {
        self.was_on_probation(self.last_offence.load(Ordering::Relaxed), now)
    }

    /// Whether a module whose last offence was recorded as `last_offence` is on probation at
    /// `now`.
    fn was_on_probation(&self, last_offence: u64, now: Instant) -> bool {
        match last_offence {
            0 => false,
            at => {
                let since = self.millis_at(now).saturating_sub(at - 1);
                u128::from(since) < PROBATION.as_millis()
            }
        }
    }

    fn millis_at(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.born).as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_need_no_turn_until_one_offends_then_take_turns_one_at_a_time() {
        let gate = CallGate::new();
        assert!(!gate.on_probation());

        assert_eq!(gate.probation(), Probation::default());
        assert!(gate.offended(), "the first offence starts a probation");
        assert!(gate.on_probation());
        assert!(!gate.offended(), "a second one prolongs it");
        assert_eq!(
            gate.probation(),
            Probation {
                active: true,
                offences: 2,
                started: 1
            }
        );
        let first = gate.take_turn().await.expect("a turn");
        let second = tokio::time::timeout(Duration::from_millis(50), gate.take_turn()).await;
        assert!(second.is_err(), "a second call started beside the first");
        drop(first);
        let next = tokio::time::timeout(Duration::from_secs(5), gate.take_turn())
            .await
            .expect("the next call starts once the turn ends");
        assert!(next.is_some());
    }

    #[test]
    fn probation_ends_after_its_time() {
        let gate = CallGate::new();
        gate.offended();
        let now = Instant::now();
        assert!(gate.on_probation_at(now));
        assert!(gate.on_probation_at(now + PROBATION - Duration::from_secs(1)));
        assert!(!gate.on_probation_at(now + PROBATION + Duration::from_secs(1)));
    }
}
