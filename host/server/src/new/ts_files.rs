//! The files of a new TypeScript module (`cairn new ... --lang ts`): its `package.json`
//! (depending on the TypeScript SDK of a checkout of cairn by path), `tsconfig.json`,
//! `.gitignore`, `src/index.ts` (an aggregate's or a projection's) and its given/when/then test
//! in `test/`, from the templates in `templates/ts/`.

use std::path::{Path, PathBuf};

use super::Kind;
use super::sdk::SdkSource;
use super::template::{self, render};

const PACKAGE_JSON: &str = include_str!("templates/ts/package.json.tmpl");
const TSCONFIG: &str = include_str!("templates/ts/tsconfig.json.tmpl");
const GITIGNORE: &str = include_str!("templates/ts/gitignore.tmpl");
const AGGREGATE: &str = include_str!("templates/ts/aggregate.ts.tmpl");
const AGGREGATE_TEST: &str = include_str!("templates/ts/aggregate.test.ts.tmpl");
const PROJECTION: &str = include_str!("templates/ts/projection.ts.tmpl");
const PROJECTION_TEST: &str = include_str!("templates/ts/projection.test.ts.tmpl");

/// The TypeScript SDK beside `sdk`, the Rust SDK of a checkout; refused for a reactor (the
/// TypeScript SDK has none yet) and without a checkout.
pub(super) fn sdk_of(sdk: &SdkSource, kind: &Kind) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        !matches!(kind, Kind::Reactor { .. }),
        "reactors are written in Rust for now: the TypeScript SDK has aggregates and projections"
    );
    let SdkSource::Path { sdk, .. } = sdk else {
        anyhow::bail!(
            "a TypeScript module depends on the SDK of a checkout of cairn (its guest-sdk-ts), \
             and none was found: run `cairn new` inside one, or give it with --sdk"
        );
    };
    let typescript = sdk
        .parent()
        .map(|checkout| checkout.join("guest-sdk-ts"))
        .filter(|dir| dir.join("package.json").is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no guest-sdk-ts beside it: give a checkout of cairn with --sdk",
                sdk.display()
            )
        })?;
    Ok(typescript.canonicalize().unwrap_or(typescript))
}

/// Writes the package's files into the empty directory `dir`.
pub(super) fn write_package(dir: &Path, name: &str, kind: &Kind, sdk: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("test"))?;
    let type_name = template::upper_camel(name);
    let sdk_path = sdk.display().to_string();
    let code_keys = [("name", name), ("Name", type_name.as_str())];
    let (source, test) = match kind {
        Kind::Aggregate | Kind::Reactor { .. } => (
            render(AGGREGATE, &code_keys),
            render(AGGREGATE_TEST, &code_keys),
        ),
        Kind::Projection { of } => {
            let (source, subscription, stream) = match of {
                Some(of) => (
                    format!("the events of the `{of}` aggregate (its streams `{of}-{{id}}`)"),
                    format!("Subscription.category('{of}')"),
                    of.as_str(),
                ),
                None => (
                    "every event of the log of a type it names".to_owned(),
                    "Subscription.everything()".to_owned(),
                    "example",
                ),
            };
            let keys = [
                ("name", name),
                ("source", source.as_str()),
                ("subscription", subscription.as_str()),
                ("stream", stream),
            ];
            (render(PROJECTION, &keys), render(PROJECTION_TEST, &keys))
        }
    };
    // The manifest is JSON: the SDK's path goes in as a JSON string's content.
    let quoted = serde_json::to_string(&sdk_path)?;
    let files = [
        (
            "package.json",
            render(
                PACKAGE_JSON,
                &[("name", name), ("sdk_path", &quoted[1..quoted.len() - 1])],
            ),
        ),
        ("tsconfig.json", render(TSCONFIG, &[])),
        (".gitignore", render(GITIGNORE, &[])),
        ("src/index.ts", source),
        (&format!("test/{name}.test.ts"), test),
    ];
    for (file, text) in files {
        std::fs::write(dir.join(file), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_filled_by_its_keys() {
        let code = [("name", "n"), ("Name", "N")];
        render(AGGREGATE, &code);
        render(AGGREGATE_TEST, &code);
        let projection = [
            ("name", "n"),
            ("source", "s"),
            ("subscription", "Subscription.everything()"),
            ("stream", "x"),
        ];
        render(PROJECTION, &projection);
        render(PROJECTION_TEST, &projection);
        render(PACKAGE_JSON, &[("name", "n"), ("sdk_path", "/sdk")]);
        render(TSCONFIG, &[]);
        render(GITIGNORE, &[]);
    }

    #[test]
    fn a_package_depends_on_the_sdk_by_path_and_lists_its_test() {
        let dir = tempfile::tempdir().expect("temp dir");
        let module = dir.path().join("wallet");
        std::fs::create_dir(&module).expect("mkdir");
        write_package(
            &module,
            "wallet",
            &Kind::Aggregate,
            Path::new("/opt/cairn/guest-sdk-ts"),
        )
        .expect("written");
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(module.join("package.json")).expect("read"),
        )
        .expect("JSON");
        assert_eq!(manifest["name"], "wallet");
        assert_eq!(
            manifest["devDependencies"]["@cairn/sdk"],
            "file:/opt/cairn/guest-sdk-ts"
        );
        let test = std::fs::read_to_string(module.join("test/wallet.test.ts")).expect("read");
        assert!(
            test.contains("import wallet, { type WalletEvent }"),
            "{test}"
        );
        assert!(
            sdk_of(&SdkSource::Git { url: "u".into() }, &Kind::Aggregate)
                .expect_err("no checkout")
                .to_string()
                .contains("--sdk")
        );
        let reactor = Kind::Reactor { of: "a".into() };
        assert!(sdk_of(&SdkSource::Git { url: "u".into() }, &reactor).is_err());
    }
}
