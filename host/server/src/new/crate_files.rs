//! The files of a new module's crate: its manifest, its `.cargo/config.toml`, its
//! `.gitignore`, its `src/lib.rs` (an aggregate's or a projection's), and its checkout's
//! `Cargo.lock` when the SDK comes from a checkout.

use std::path::Path;

use super::Kind;
use super::sdk::SdkSource;
use super::template;

/// Writes the crate's files into the empty directory `dir`.
pub(super) fn write_crate(
    dir: &Path,
    name: &str,
    kind: &Kind,
    sdk: &SdkSource,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join(".cargo"))?;
    let type_name = template::upper_camel(name);
    let dependency = sdk.dependency();
    let files = [
        (
            "Cargo.toml",
            template::render(
                template::CARGO_TOML,
                &[("name", name), ("sdk_dependency", &dependency)],
            ),
        ),
        (
            ".cargo/config.toml",
            template::render(template::CARGO_CONFIG, &[]),
        ),
        (".gitignore", template::render(template::GITIGNORE, &[])),
        ("src/lib.rs", module_source(name, &type_name, kind)),
    ];
    for (file, text) in files {
        std::fs::write(dir.join(file), text)?;
    }
    format_source(dir);
    if let SdkSource::Path {
        lock: Some(lock), ..
    } = sdk
    {
        std::fs::copy(lock, dir.join("Cargo.lock"))?;
    }
    Ok(())
}

/// Formats the crate's source with rustfmt, whose line breaks depend on the length of the
/// module's name. Without rustfmt the source stays as the template has it, which builds the
/// same.
fn format_source(dir: &Path) {
    let _ = std::process::Command::new("rustfmt")
        .current_dir(dir)
        .args(["--edition", "2024", "src/lib.rs"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// The crate's `src/lib.rs`.
fn module_source(name: &str, type_name: &str, kind: &Kind) -> String {
    match kind {
        Kind::Aggregate => {
            template::render(template::AGGREGATE, &[("name", name), ("Name", type_name)])
        }
        Kind::Reactor { of } => template::render(
            template::REACTOR,
            &[("name", name), ("Name", type_name), ("of", of)],
        ),
        Kind::Projection { of } => {
            let (source, subscription, stream) = match of {
                Some(of) => (
                    format!("the events of the `{of}` aggregate (its streams `{of}-{{id}}`)"),
                    format!("Subscription::category(\"{of}\")"),
                    of.as_str(),
                ),
                None => (
                    "every event of the log of a type it names (`Subscription::category(\"orders\")` \
                     would read only the `orders` aggregate's)"
                        .to_owned(),
                    "Subscription::everything()".to_owned(),
                    "example",
                ),
            };
            template::render(
                template::PROJECTION,
                &[
                    ("name", name),
                    ("Name", type_name),
                    ("source", &source),
                    ("subscription", &subscription),
                    ("stream", stream),
                ],
            )
        }
    }
}
