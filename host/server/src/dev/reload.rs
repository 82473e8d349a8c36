//! Building a module and swapping it into the running registry, once a plan over the dev
//! store has shown that it reads every event already stored for it.

use std::path::PathBuf;
use std::sync::Arc;

use cairn_runtime::{AggregatePlan, CommandPath, PlanError, PlanOptions, PlanProgress};

use crate::guests;
use crate::project::ModuleSource;

/// Builds modules into one target directory and loads them into `registry`.
#[derive(Debug)]
pub(super) struct Reloader {
    command_path: Arc<CommandPath>,
    target_dir: PathBuf,
    /// One build at a time: cargo would wait on its lock anyway.
    building: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub(super) fn new(command_path: Arc<CommandPath>, target_dir: PathBuf) -> Self {
        Self {
            command_path,
            target_dir,
            building: tokio::sync::Mutex::new(()),
        }
    }

    /// Builds `module` and swaps it in, printing what happened. A failure leaves the loaded
    /// version serving.
    pub(super) async fn reload(&self, module: &ModuleSource) {
        let _building = self.building.lock().await;
        crate::serve::announce(format_args!("building {}…", module.name));
        let started = std::time::Instant::now();
        let dir = module.dir.clone();
        let target_dir = self.target_dir.clone();
        let built =
            tokio::task::spawn_blocking(move || guests::build_module(&dir, &target_dir)).await;
        let bytes = match built {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(error)) => {
                crate::serve::complain(format_args!(
                    "✗ {} did not build; {}.\n{error}",
                    module.name,
                    self.serving(module)
                ));
                return;
            }
            Err(error) => {
                crate::serve::complain(format_args!("✗ building {} stopped: {error}", module.name));
                return;
            }
        };
        if !self.planned(module, &bytes).await {
            return;
        }
        match self
            .command_path
            .registry()
            .upload(&module.name, bytes)
            .await
        {
            Ok(uploaded) if uploaded.created => crate::serve::announce(format_args!(
                "✓ {} v{} loaded ({} ms, sha256 {})",
                module.name,
                uploaded.record.version,
                started.elapsed().as_millis(),
                uploaded.record.hash.short()
            )),
            Ok(uploaded) => crate::serve::announce(format_args!(
                "✓ {} v{} is unchanged",
                module.name, uploaded.record.version
            )),
            Err(error) => crate::serve::complain(format_args!(
                "✗ {} built but was refused; {}: {error}",
                module.name,
                self.serving(module)
            )),
        }
    }

    /// Plans `bytes` as the next version of an aggregate `module` over the dev store. False,
    /// having said why, when it cannot read an event already stored: the loaded version goes
    /// on serving. Otherwise true, having said what it decides or folds otherwise, if anything.
    async fn planned(&self, module: &ModuleSource, bytes: &[u8]) -> bool {
        if self.command_path.serves(&module.name, bytes) {
            return true;
        }
        let planned = self
            .command_path
            .plan(
                &module.name,
                bytes.to_vec(),
                PlanOptions::default(),
                &PlanProgress::default(),
            )
            .await;
        let report = match planned {
            Ok(report) => report,
            // A projection or a reactor, or a module that does not load: the upload says so.
            Err(
                PlanError::Candidate(_)
                | PlanError::NotAnAggregate(_)
                | PlanError::NotAProjection(_)
                | PlanError::Reactor(_),
            ) => return true,
            Err(PlanError::Storage(error)) => {
                crate::serve::complain(format_args!(
                    "✗ {} was not planned, the store failed: {error}; {}",
                    module.name,
                    self.serving(module)
                ));
                return false;
            }
            Err(PlanError::Host(error)) => {
                crate::serve::complain(format_args!(
                    "✗ {} was not planned, the host failed: {error}; {}; save it again to retry",
                    module.name,
                    self.serving(module)
                ));
                return false;
            }
        };
        if report.replay.failed > 0 {
            crate::serve::complain(format_args!(
                "{}",
                refusal(&module.name, &report, &self.serving(module))
            ));
            return false;
        }
        if report.changes {
            crate::serve::announce(format_args!("{}", changes(&module.name, &report)));
        }
        true
    }

    /// What serves `module` while a new version failed.
    fn serving(&self, module: &ModuleSource) -> String {
        let version = self
            .command_path
            .registry()
            .list()
            .into_iter()
            .find(|m| m.name.as_str() == module.name)
            .map(|m| m.version);
        match version {
            Some(version) => format!("version {version} keeps serving"),
            None => "no version of it is loaded".to_owned(),
        }
    }
}

/// Why a version that cannot read the stored events is not swapped in, and how to fix it.
fn refusal(name: &str, report: &AggregatePlan, serving: &str) -> String {
    let replay = &report.replay;
    let upcaster = report.kind == "upcaster";
    let mut text = if upcaster {
        format!(
            "✗ the events of {} cannot be read through {name}, in {} of its {} streams; {serving}.",
            report.category, replay.failed, replay.streams
        )
    } else {
        format!(
            "✗ {name} cannot read events already stored, in {} of its {} streams; {serving}.",
            replay.failed, replay.streams
        )
    };
    if let Some(first) = replay.failures.first() {
        text.push_str(&format!("\n  first: {first}"));
    }
    if upcaster {
        text.push_str(
            "\n  fix the upcaster for those events (`cairn_sdk::testing::upcast` tries one \
             natively); `cairn dev --clean` starts from an empty store",
        );
        return text;
    }
    text.push_str(
        "\n  stored events are kept forever: read their old shape too (`#[serde(default)]` on a \
         new field, `#[serde(alias = \"old\")]` on a renamed one), or add an upcaster that \
         turns the old event into the new one; `cairn dev --clean` starts from an empty store",
    );
    text
}

/// A line on what a swapped-in version folds or decides otherwise than the one it replaces.
fn changes(name: &str, report: &AggregatePlan) -> String {
    let (replay, redecide) = (&report.replay, &report.redecide);
    format!(
        "  plan of {name}: {} of {} states differ; of {} recorded commands, {} decided \
         otherwise and {} flipped, {} failed (`cairn deploy --plan` shows them)",
        replay.differ,
        replay.streams,
        redecide.commands,
        redecide.different,
        redecide.flipped,
        redecide.failed
    )
}
