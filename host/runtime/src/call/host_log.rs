//! The `log` import: the one host function modules get besides deterministic WASI.

use crate::call::bindings::aggregate::cairn::module::log::{Host, Level};
use crate::call::sandbox::Sandbox;

/// Longer lines are cut, so a module cannot flood the log with one call.
const MAX_LINE: usize = 4096;

impl Host for Sandbox {
    fn write(&mut self, level: Level, message: String) {
        let mut end = message.len().min(MAX_LINE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let line = &message[..end];
        let module = &*self.module;
        match level {
            Level::Trace => tracing::trace!(module, "{line}"),
            Level::Debug => tracing::debug!(module, "{line}"),
            Level::Info => tracing::info!(module, "{line}"),
            Level::Warn => tracing::warn!(module, "{line}"),
            Level::Error => tracing::error!(module, "{line}"),
        }
    }
}

impl crate::call::bindings::aggregate::cairn::module::types::Host for Sandbox {}
