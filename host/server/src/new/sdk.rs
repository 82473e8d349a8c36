//! Where a new crate gets `cairn-sdk`, which is not on crates.io: by path from a checkout of
//! cairn when one is known (given with `--sdk`, or the [`checkout`](crate::guests::checkout)
//! cairn finds), else from cairn's git repository.

use std::path::{Path, PathBuf};

/// cairn's git repository, for a crate made where no checkout is found. Set `CAIRN_GIT_URL`
/// when building cairn to name the repository it was cloned from.
const GIT_URL: &str = match option_env!("CAIRN_GIT_URL") {
    Some(url) => url,
    None => "https://example.com/cairn.git",
};

/// Where the SDK comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// The `guest-sdk` directory of a checkout, and that checkout's `Cargo.lock` if it has one:
    /// the versions the SDK is built and tested with, copied into the new crate so it builds
    /// with them at once.
    Path { sdk: PathBuf, lock: Option<PathBuf> },
    /// cairn's git repository.
    Git { url: String },
}

impl SdkSource {
    /// The SDK of `given` (a checkout, or its `guest-sdk` directory), else of the checkout
    /// cairn finds, else cairn's git repository.
    pub fn find(given: Option<&Path>) -> anyhow::Result<Self> {
        let sdk = match given {
            Some(dir) => of_given(dir)?,
            None => match crate::guests::checkout() {
                Some(checkout) => checkout.join("guest-sdk"),
                None => {
                    return Ok(Self::Git {
                        url: GIT_URL.to_owned(),
                    });
                }
            },
        };
        let sdk = sdk.canonicalize().unwrap_or(sdk);
        let lock = sdk
            .parent()
            .map(|checkout| checkout.join("Cargo.lock"))
            .filter(|lock| lock.is_file());
        Ok(Self::Path { sdk, lock })
    }

    /// The dependency's lines in the crate's `[dependencies]`, with a comment that says where
    /// the SDK comes from and how to change it.
    pub fn dependency(&self) -> String {
        match self {
            Self::Path { sdk, .. } => format!(
                "# cairn-sdk is not on crates.io: this is the SDK of a checkout of cairn (the one\n\
                 # `cairn new` found, or was given with --sdk). Point `path` at another checkout's\n\
                 # `guest-sdk` to use that one.\n\
                 cairn-sdk = {{ path = {} }}",
                toml_string(&sdk.display().to_string())
            ),
            Self::Git { url } => format!(
                "# cairn-sdk is not on crates.io, and `cairn new` found no checkout of cairn, so\n\
                 # this takes the SDK from cairn's git repository: set `git` to the repository\n\
                 # you got cairn from. With a checkout, use its SDK by path instead:\n\
                 # cairn-sdk = {{ path = \"/path/to/cairn/guest-sdk\" }}\n\
                 cairn-sdk = {{ git = {} }}",
                toml_string(url)
            ),
        }
    }

    /// What to tell the author about it.
    pub fn describe(&self) -> String {
        match self {
            Self::Path { sdk, lock, .. } => {
                let lock = match lock {
                    Some(_) => ", with its checkout's Cargo.lock",
                    None => "",
                };
                format!("cairn-sdk from {}{lock}", sdk.display())
            }
            Self::Git { url } => format!(
                "cairn-sdk from {url}: no checkout of cairn was found; edit the dependency in \
                 Cargo.toml if that is not where cairn lives, or run again with --sdk DIR"
            ),
        }
    }
}

/// The SDK directory of `dir`: a checkout's `guest-sdk`, or `dir` itself when it is the SDK.
fn of_given(dir: &Path) -> anyhow::Result<PathBuf> {
    let candidates = [dir.join("guest-sdk"), dir.to_path_buf()];
    candidates
        .into_iter()
        .find(|candidate| {
            cairn_guest_build::lib_name(&candidate.join("Cargo.toml"))
                .is_ok_and(|name| name == "cairn-sdk")
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--sdk {}: neither it nor its guest-sdk/ holds the cairn-sdk crate; give a \
                 checkout of cairn or its guest-sdk directory",
                dir.display()
            )
        })
}

/// `text` as a TOML string, quoted and escaped.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_checkout_or_sdk_is_used_by_path_with_its_lock() {
        let checkout = tempfile::tempdir().expect("temp dir");
        let sdk = checkout.path().join("guest-sdk");
        std::fs::create_dir_all(&sdk).expect("mkdir");
        std::fs::write(sdk.join("Cargo.toml"), "[package]\nname = \"cairn-sdk\"\n").expect("write");
        std::fs::write(checkout.path().join("Cargo.lock"), "").expect("write");
        for given in [checkout.path(), sdk.as_path()] {
            let source = SdkSource::find(Some(given)).expect("an SDK");
            let SdkSource::Path {
                sdk: found, lock, ..
            } = &source
            else {
                panic!("{source:?}");
            };
            assert!(found.ends_with("guest-sdk"), "{found:?}");
            assert!(lock.as_ref().is_some_and(|l| l.ends_with("Cargo.lock")));
            let dependency = source.dependency();
            assert!(
                dependency.contains("cairn-sdk = { path = \""),
                "{dependency}"
            );
            assert!(dependency.contains("--sdk"), "{dependency}");
            let toml: toml::Table = toml::from_str(&dependency).expect("TOML");
            assert!(toml["cairn-sdk"]["path"].as_str().is_some());
        }
        let err = SdkSource::find(Some(&sdk.join("src"))).expect_err("no SDK there");
        assert!(err.to_string().contains("cairn-sdk crate"), "{err}");
    }

    #[test]
    fn without_a_checkout_the_sdk_comes_from_git_with_a_comment() {
        let source = SdkSource::Git {
            url: "https://example.com/cairn.git".into(),
        };
        let dependency = source.dependency();
        let toml: toml::Table = toml::from_str(&dependency).expect("TOML");
        assert_eq!(
            toml["cairn-sdk"]["git"].as_str(),
            Some("https://example.com/cairn.git")
        );
        assert!(dependency.contains("not on crates.io"), "{dependency}");
        assert!(source.describe().contains("--sdk"));
    }
}
