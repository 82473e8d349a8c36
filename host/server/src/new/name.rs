//! The name of a new module: the module's name, and the crate's.

use cairn_store::{ModuleName, NameError};

/// Names a new crate cannot take although they follow the module-name rule: Rust's keywords
/// and its own crates, and the crates a module depends on. Its library is named after it.
const TAKEN: [&str; 61] = [
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "cairn_sdk",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc_macro",
    "pub",
    "ref",
    "return",
    "self",
    "serde",
    "serde_derive",
    "serde_json",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "wit_bindgen",
    "yield",
];

/// Why a name cannot name a new module.
#[derive(Debug, thiserror::Error)]
pub enum BadName {
    /// It breaks the module-name rule.
    #[error(
        "`{name}` cannot name a module: it {reason}. A module's name is a lower-case letter, \
         then lower-case letters, digits and `_`, at most {max} bytes, such as `shop_cart`",
        max = ModuleName::MAX_LEN
    )]
    Rule { name: String, reason: String },
    /// Rust or the crate's dependencies use it already.
    #[error(
        "`{name}` cannot name a module's crate: Rust or the crate's dependencies use that name; \
         pick another, such as `my_{name}`"
    )]
    Taken { name: String },
}

/// Checks that `name` can name a new module and its crate.
pub(super) fn check(name: &str) -> Result<ModuleName, BadName> {
    let module = ModuleName::new(name).map_err(|e| BadName::Rule {
        name: name.to_owned(),
        reason: reason(&e),
    })?;
    if TAKEN.binary_search(&name).is_ok() {
        return Err(BadName::Taken {
            name: name.to_owned(),
        });
    }
    Ok(module)
}

/// What is wrong with a name, shown with the character that breaks the rule; the rule itself
/// is said once, by [`BadName::Rule`].
fn reason(error: &NameError) -> String {
    match error {
        NameError::NotAModuleName { code, at } => match char::from_u32(*code) {
            Some(c) if !c.is_control() && !c.is_whitespace() => format!("holds `{c}` at byte {at}"),
            _ => format!("holds U+{code:04X} at byte {at}"),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_name_is_lower_case_letters_digits_and_underscores() {
        for good in ["shop_cart", "a", "cart2", "orders_v2_"] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ShopCart",
            "shop-cart",
            "2carts",
            "_cart",
            "cart!",
            &"a".repeat(65),
        ] {
            let message = check(bad).expect_err(bad).to_string();
            assert!(
                message.contains("a lower-case letter, then lower-case letters"),
                "{message}"
            );
        }
        let message = check("Shop").expect_err("upper case").to_string();
        assert!(
            message.starts_with("`Shop` cannot name a module: it holds `S` at byte 0. A module"),
            "{message}"
        );
    }

    #[test]
    fn rusts_own_names_are_refused() {
        let mut sorted = TAKEN;
        sorted.sort_unstable();
        assert_eq!(sorted, TAKEN, "TAKEN is searched, so it stays sorted");
        for taken in ["fn", "std", "serde", "cairn_sdk", "test"] {
            let message = check(taken).expect_err(taken).to_string();
            assert!(message.contains("pick another"), "{message}");
        }
    }
}
