//! What `cairn new` says it made, and what to do next.

use std::path::Path;

use super::project_entry::{self, relative_to};
use super::{Kind, Made};

impl Made {
    /// What was made, and what to do next.
    pub(super) fn report(&self, here: &Path, name: &str, kind: &Kind) -> String {
        let shown = |path: &Path| relative_to(path, here).display().to_string();
        let what = match kind {
            Kind::Aggregate => "aggregate",
            Kind::Projection { .. } => "projection",
            Kind::Reactor { .. } => "reactor",
        };
        let dir = shown(&self.dir);
        let (language, sdk) = match &self.typescript_sdk {
            None => ("", self.sdk.describe()),
            Some(sdk) => ("TypeScript ", format!("@cairn/sdk from {}", sdk.display())),
        };
        let mut report = format!("made the {language}{what} `{name}` in {dir}, with {sdk}\n");
        let indent = |entry: &str| {
            entry
                .lines()
                .map(|line| format!("  {line}\n"))
                .collect::<String>()
        };
        let dev_dir = match &self.listed {
            Some(listed) => {
                report.push_str(&format!("added to {}:\n", shown(&listed.file)));
                report.push_str(&indent(&listed.entry));
                listed.file.parent().map(shown)
            }
            None => {
                report.push_str(
                    "no cairn.toml here or beside the crate: to run it with `cairn dev`, list it \
                     in one:\n",
                );
                report.push_str(&indent(&project_entry::entry(
                    name,
                    &relative_to(&self.dir, here),
                )));
                None
            }
        };
        report.push_str("next:\n");
        let test = match self.typescript_sdk {
            None => "cargo test",
            Some(_) => "npm install && npm test",
        };
        report.push_str(&format!(
            "  cd {dir} && {test}    # its given/when/then tests\n"
        ));
        let dev = match (&self.listed, dev_dir.as_deref()) {
            (None, _) => "cairn dev    # with that cairn.toml here: builds it,".to_owned(),
            (Some(_), Some("" | ".") | None) => "cairn dev    # builds it,".to_owned(),
            (Some(_), Some(root)) => format!("cd {root} && cairn dev    # builds it,"),
        };
        report.push_str(&format!(
            "  {dev} serves it on 127.0.0.1:7700, and reloads it on every save\n"
        ));
        let example = match kind {
            Kind::Aggregate => format!(
                "cairn send {name} 1 '{{\"type\": \"Create\", \"data\": {{\"title\": \"First\"}}}}'"
            ),
            Kind::Projection { .. } => {
                let query = match self.typescript_sdk {
                    None => "count",
                    Some(_) => "titles",
                };
                format!("cairn query {name} '{{\"type\": \"{query}\"}}'")
            }
            Kind::Reactor { of } => format!(
                "cairn send {of} 1 '{{\"type\": \"Create\", \"data\": {{\"title\": \"First\"}}}}' && cairn reactors status {name}"
            ),
        };
        report.push_str(&format!("  {example}\n"));
        report
    }
}
