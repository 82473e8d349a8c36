//! Bench figures, their targets, and how they are printed.

use std::fmt::Write as _;

use super::machine::Machine;

/// Which way a figure must go to meet its target.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn met_by(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t,
            Target::AtMost(t) => value <= t,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Figure {
    pub(crate) key: &'static str,
    pub(crate) value: f64,
    pub(crate) unit: &'static str,
    pub(crate) workload: String,
    pub(crate) target: Option<Target>,
}

#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) scenario: &'static str,
    pub(crate) scale: f64,
    pub(crate) figures: Vec<Figure>,
}

/// A figure that must be zero whatever the host is doing: probations of well-behaved modules.
pub(crate) fn probations(key: &'static str, started: u64, module: &str) -> Figure {
    Figure {
        key,
        value: started as f64,
        unit: "times",
        workload: format!("probations of {module} during the run"),
        target: Some(Target::AtMost(0.0)),
    }
}

/// A report as printed: the figures, the machine they were measured on, and, when measured
/// under [`Pressure`](crate::pressure::Pressure), what the pressure did.
#[derive(Debug)]
pub(crate) struct PressuredReport {
    pub(crate) report: Report,
    pub(crate) machine: Machine,
    pub(crate) pressure: Option<crate::pressure::PressureReport>,
}

impl PressuredReport {
    /// `report`, measured on `machine` under `pressure` if any. Under pressure the rate and
    /// latency targets (set for a quiet host) are left out; what must hold on any host (no
    /// probation, no failure: the run stops at the first) still has its target.
    pub(crate) fn new(
        mut report: Report,
        machine: Machine,
        pressure: Option<crate::pressure::PressureReport>,
    ) -> Self {
        if pressure.is_some() {
            for figure in &mut report.figures {
                if figure.unit != "times" {
                    figure.target = None;
                }
            }
        }
        Self {
            report,
            machine,
            pressure,
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut json = self.report.to_json();
        let Some(object) = json.as_object_mut() else {
            return json;
        };
        object.insert("machine".into(), self.machine.to_json());
        if let Some(p) = self.pressure {
            object.insert(
                "pressure".into(),
                serde_json::json!({
                    "busy_threads": p.busy_threads,
                    "synced_bytes": p.synced_bytes,
                }),
            );
        }
        json
    }

    pub(crate) fn to_table(&self) -> String {
        let mut table = format!(
            "cairn bench {} (scale {}) on {}\n",
            self.report.scenario,
            self.report.scale,
            self.machine.describe()
        );
        table.push_str(&self.report.to_table());
        if let Some(p) = self.pressure {
            let _ = writeln!(
                table,
                "  under pressure: {} busy threads, {} MiB written and synced beside the run",
                p.busy_threads,
                p.synced_bytes / (1024 * 1024)
            );
        }
        table
    }
}

impl Report {
    pub(crate) fn all_targets_met(&self) -> bool {
        self.figures
            .iter()
            .all(|f| f.target.is_none_or(|t| t.met_by(f.value)))
    }

    /// One JSON object: every figure by its key, plus what the run was.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("scenario".into(), self.scenario.into());
        object.insert("scale".into(), self.scale.into());
        for figure in &self.figures {
            object.insert(figure.key.into(), round3(figure.value).into());
        }
        object.insert("targets_met".into(), self.all_targets_met().into());
        serde_json::Value::Object(object)
    }

    /// One line per figure.
    pub(crate) fn to_table(&self) -> String {
        let mut out = String::new();
        for f in &self.figures {
            let target = match f.target {
                None => String::new(),
                Some(t) => {
                    let (sign, value) = match t {
                        Target::AtLeast(v) => ("≥", v),
                        Target::AtMost(v) => ("≤", v),
                    };
                    let verdict = if t.met_by(f.value) { "met" } else { "MISSED" };
                    format!("target {sign} {} {}: {verdict}", human(value), f.unit)
                }
            };
            let _ = writeln!(
                out,
                "  {:<30} {:>14} {:<9} {:<60} {}",
                f.key,
                human(f.value),
                f.unit,
                f.workload,
                target
            );
        }
        out
    }
}

fn round3(v: f64) -> f64 {
    (v * 1_000.0).round() / 1_000.0
}

fn human(v: f64) -> String {
    if v >= 100.0 {
        let whole = v.round() as u64;
        let digits = whole.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{v:.3}")
    }
}
