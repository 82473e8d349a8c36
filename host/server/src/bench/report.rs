//! Bench figures, their targets, and how they are printed.

use std::fmt::Write as _;

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
        object.insert("cores".into(), cores().into());
        for figure in &self.figures {
            object.insert(figure.key.into(), round3(figure.value).into());
        }
        object.insert("targets_met".into(), self.all_targets_met().into());
        serde_json::Value::Object(object)
    }

    pub(crate) fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "cairn bench {} (scale {}, {} cores)",
            self.scenario,
            self.scale,
            cores()
        );
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

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
