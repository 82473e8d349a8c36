//! A look at an uploaded component before it is compiled: [`preflight`] reads its sections
//! (cheap: no code is compiled or validated) and refuses it early when it could never load, or
//! would cost more to compile than the host allows.
//!
//! Compiling is by far the most expensive thing an upload does: a 16 MiB component with 250,000
//! functions took 9.4 s and 1.8 GB of memory to compile before it was refused as the wrong
//! world. So, before compiling, the component's own imports and exports (not those of the
//! components nested in it) must name a cairn world and nothing the sandbox lacks, and its core
//! modules together must stay within a [`CompileBudget`]. What passes is still compiled and
//! linked as before, which checks everything exactly (`registry.rs`).

use wasmparser::{Encoding, Parser, Payload};

use crate::error::LoadError;
use cairn_store::ModuleKind;

pub(crate) const AGGREGATE_EXPORT: &str = "cairn:module/aggregate@0.1.0";
pub(crate) const PROJECTION_EXPORT: &str = "cairn:module/projection@0.1.0";
pub(crate) const UPCASTER_EXPORT: &str = "cairn:module/upcaster@0.1.0";
pub(crate) const REACTOR_EXPORT: &str = "cairn:module/reactor@0.1.0";

/// Interfaces a module may import, by prefix: WASI's (the sandbox provides them, made
/// deterministic) and cairn's own. Which cairn interfaces a world may import is checked when
/// it is linked.
const IMPORTABLE: [&str; 7] = [
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "cairn:module/",
];

/// The most a component may ask of the compiler, summed over its core modules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileBudget {
    /// Functions with a body.
    pub functions: u64,
    /// Bytes of function bodies.
    pub code_bytes: u64,
}

impl Default for CompileBudget {
    /// About ten times the largest module this project builds in functions; the body limit of
    /// an upload (16 MiB) in code.
    fn default() -> Self {
        Self {
            functions: 100_000,
            code_bytes: 16 * 1024 * 1024,
        }
    }
}

/// What a component asks of the compiler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CompileCost {
    functions: u64,
    code_bytes: u64,
}

/// Reads `bytes` without compiling them: the world the component exports, that it imports
/// nothing the sandbox lacks, and that compiling it stays within `budget`.
pub(crate) fn preflight(bytes: &[u8], budget: CompileBudget) -> Result<ModuleKind, LoadError> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => return Err(LoadError::CoreModule),
        Some([0, b'a', b's', b'm', ..]) => {}
        _ => {
            return Err(LoadError::Invalid {
                reason: "the bytes do not begin with the WebAssembly magic number".into(),
            });
        }
    }
    let invalid = |e: wasmparser::BinaryReaderError| LoadError::Invalid {
        reason: e.to_string(),
    };
    let mut depth = 0usize;
    let mut exports = Vec::new();
    let mut cost = CompileCost::default();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return Err(LoadError::CoreModule);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let name = import.map_err(invalid)?.name.name;
                    if !IMPORTABLE.iter().any(|prefix| name.starts_with(prefix)) {
                        return Err(LoadError::BadImport {
                            reason: format!(
                                "it imports `{name}`; a module may import only WASI and the \
                                 cairn interfaces of its world"
                            ),
                        });
                    }
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.push(export.map_err(invalid)?.name.name.to_owned());
                }
            }
            Payload::CodeSectionStart { count, size, .. } => {
                cost.functions += u64::from(count);
                cost.code_bytes += u64::from(size);
                over_budget(cost, budget)?;
            }
            _ => {}
        }
    }
    world_of(&exports)
}

fn over_budget(cost: CompileCost, budget: CompileBudget) -> Result<(), LoadError> {
    if cost.functions > budget.functions {
        return Err(LoadError::ExceedsLimits {
            reason: format!(
                "it has at least {} functions to compile, over the host's budget of {} \
                 (limits.compile_functions)",
                cost.functions, budget.functions
            ),
        });
    }
    if cost.code_bytes > budget.code_bytes {
        return Err(LoadError::ExceedsLimits {
            reason: format!(
                "it has at least {} bytes of code to compile, over the host's budget of {}",
                cost.code_bytes, budget.code_bytes
            ),
        });
    }
    Ok(())
}

/// Which cairn world a component implements, by the interfaces it exports.
pub(crate) fn world_of<S: AsRef<str>>(exports: &[S]) -> Result<ModuleKind, LoadError> {
    let has = |name: &str| exports.iter().any(|e| e.as_ref() == name);
    let worlds: Vec<ModuleKind> = [
        (AGGREGATE_EXPORT, ModuleKind::Aggregate),
        (PROJECTION_EXPORT, ModuleKind::Projection),
        (UPCASTER_EXPORT, ModuleKind::Upcaster),
        (REACTOR_EXPORT, ModuleKind::Reactor),
    ]
    .into_iter()
    .filter(|(export, _)| has(export))
    .map(|(_, kind)| kind)
    .collect();
    match worlds.as_slice() {
        [kind] => Ok(*kind),
        [] => Err(LoadError::WrongWorld {
            reason: format!(
                "it exports {}, but a cairn module exports `{AGGREGATE_EXPORT}`, \
                 `{PROJECTION_EXPORT}`, `{UPCASTER_EXPORT}` or `{REACTOR_EXPORT}`",
                if exports.is_empty() {
                    "nothing".to_owned()
                } else {
                    exports
                        .iter()
                        .map(AsRef::as_ref)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        }),
        several => Err(LoadError::WrongWorld {
            reason: format!(
                "it exports the {} interfaces; a module implements one world",
                several
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component that imports `imports`, exports `exports` (each an empty instance), and
    /// holds one core module of `functions` functions, written in the text format.
    fn component(imports: &[&str], exports: &[&str], functions: usize) -> Vec<u8> {
        let mut text = String::from("(component\n");
        for (n, name) in imports.iter().enumerate() {
            text.push_str(&format!("  (import \"{name}\" (instance $i{n}))\n"));
        }
        text.push_str("  (core module $m\n");
        for n in 0..functions {
            text.push_str(&format!("    (func (export \"f{n}\"))\n"));
        }
        text.push_str("  )\n");
        for (n, name) in exports.iter().enumerate() {
            text.push_str(&format!(
                "  (instance $e{n})\n  (export \"{name}\" (instance $e{n}))\n"
            ));
        }
        text.push(')');
        wat::parse_str(&text).expect("valid component text")
    }

    #[test]
    fn names_the_world_a_component_exports() {
        let aggregate = component(&["cairn:module/log@0.1.0"], &[AGGREGATE_EXPORT], 3);
        assert_eq!(
            preflight(&aggregate, CompileBudget::default()).ok(),
            Some(ModuleKind::Aggregate)
        );
        let projection = component(&["wasi:io/streams@0.2.6"], &[PROJECTION_EXPORT], 3);
        assert_eq!(
            preflight(&projection, CompileBudget::default()).ok(),
            Some(ModuleKind::Projection)
        );
        let upcaster = component(&["cairn:module/log@0.1.0"], &[UPCASTER_EXPORT], 3);
        assert_eq!(
            preflight(&upcaster, CompileBudget::default()).ok(),
            Some(ModuleKind::Upcaster)
        );
        let reactor = component(&["cairn:module/kv@0.1.0"], &[REACTOR_EXPORT], 3);
        assert_eq!(
            preflight(&reactor, CompileBudget::default()).ok(),
            Some(ModuleKind::Reactor)
        );
    }

    #[test]
    fn refuses_another_world_or_both_before_compiling() {
        let neither = component(&[], &["example:thing/api@1.0.0"], 1);
        let err = preflight(&neither, CompileBudget::default()).expect_err("another world");
        assert!(
            matches!(&err, LoadError::WrongWorld { reason } if reason.contains("example:thing/api@1.0.0")),
            "{err}"
        );
        let both = component(&[], &[AGGREGATE_EXPORT, PROJECTION_EXPORT], 1);
        assert!(matches!(
            preflight(&both, CompileBudget::default()),
            Err(LoadError::WrongWorld { .. })
        ));
        let two = component(&[], &[PROJECTION_EXPORT, UPCASTER_EXPORT], 1);
        let err = preflight(&two, CompileBudget::default()).expect_err("two worlds");
        assert!(
            matches!(&err, LoadError::WrongWorld { reason } if reason.contains("projection and upcaster")),
            "{err}"
        );
    }

    #[test]
    fn refuses_an_import_the_sandbox_does_not_provide() {
        let greedy = component(
            &["wasi:http/outgoing-handler@0.2.6"],
            &[AGGREGATE_EXPORT],
            1,
        );
        let err = preflight(&greedy, CompileBudget::default()).expect_err("a bad import");
        assert!(
            matches!(&err, LoadError::BadImport { reason } if reason.contains("wasi:http/outgoing-handler")),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_component_over_the_compile_budget() {
        let budget = CompileBudget {
            functions: 10,
            code_bytes: 1024 * 1024,
        };
        assert!(preflight(&component(&[], &[AGGREGATE_EXPORT], 10), budget).is_ok());
        let err = preflight(&component(&[], &[AGGREGATE_EXPORT], 11), budget)
            .expect_err("over the budget");
        assert!(
            matches!(&err, LoadError::ExceedsLimits { reason } if reason.contains("functions")),
            "{err}"
        );
        let small = CompileBudget {
            functions: 1_000,
            code_bytes: 8,
        };
        assert!(matches!(
            preflight(&component(&[], &[AGGREGATE_EXPORT], 10), small),
            Err(LoadError::ExceedsLimits { .. })
        ));
    }

    #[test]
    fn refuses_bytes_that_are_not_a_component() {
        assert!(matches!(
            preflight(b"\0asm\x01\0\0\0", CompileBudget::default()),
            Err(LoadError::CoreModule)
        ));
        assert!(matches!(
            preflight(b"not wasm at all", CompileBudget::default()),
            Err(LoadError::Invalid { .. })
        ));
        assert!(matches!(
            preflight(b"\0asm\x0d\0\x01\0\x07\xff", CompileBudget::default()),
            Err(LoadError::Invalid { .. })
        ));
    }
}
