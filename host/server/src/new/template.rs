//! The files of a new module crate, kept as templates under `templates/` and filled in by
//! [`render`]: each `{{key}}` in a template is replaced by its value.

/// The crate's `Cargo.toml`: `{{name}}`, `{{sdk_dependency}}`.
pub(super) const CARGO_TOML: &str = include_str!("templates/Cargo.toml.tmpl");
/// The crate's `.cargo/config.toml`: the modules' stack setting.
pub(super) const CARGO_CONFIG: &str = include_str!("templates/cargo-config.toml.tmpl");
/// The crate's `.gitignore`.
pub(super) const GITIGNORE: &str = include_str!("templates/gitignore.tmpl");
/// An aggregate's `src/lib.rs`: `{{name}}`, `{{Name}}`.
pub(super) const AGGREGATE: &str = include_str!("templates/aggregate.rs.tmpl");
/// A projection's `src/lib.rs`: `{{name}}`, `{{Name}}`, `{{source}}`, `{{subscription}}`,
/// `{{stream}}`.
pub(super) const PROJECTION: &str = include_str!("templates/projection.rs.tmpl");
/// A reactor's `src/lib.rs`: `{{name}}`, `{{Name}}`, `{{of}}`.
pub(super) const REACTOR: &str = include_str!("templates/reactor.rs.tmpl");

/// `template` with every `{{key}}` of `values` replaced by its value.
///
/// # Panics
/// If a `{{key}}` is left that `values` does not give: a template and its caller disagree,
/// which the tests below catch for every template.
pub(super) fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    if let Some(left) = placeholder_in(&text) {
        panic!("the template still holds {left} after it was filled in");
    }
    text
}

/// The first `{{key}}` in `text`, if any (a key is letters and `_`).
fn placeholder_in(text: &str) -> Option<&str> {
    text.match_indices("{{").find_map(|(at, _)| {
        let rest = &text[at + 2..];
        let key_len = rest
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
            .unwrap_or(rest.len());
        (key_len > 0 && rest[key_len..].starts_with("}}")).then(|| &text[at..at + key_len + 4])
    })
}

/// `shop_cart` as a Rust type name: `ShopCart`.
pub(super) fn upper_camel(name: &str) -> String {
    name.split('_')
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_replaced() {
        let text = render(
            "[{{name}}] {{Name}}{{name}}",
            &[("name", "a_b"), ("Name", "AB")],
        );
        assert_eq!(text, "[a_b] ABa_b");
        // Rust's braces are not keys.
        assert_eq!(
            render("fn f() { format!(\"{}\") }", &[]),
            "fn f() { format!(\"{}\") }"
        );
    }

    #[test]
    #[should_panic(expected = "{{stream}}")]
    fn a_key_left_unfilled_is_a_bug() {
        render("a {{stream}} b", &[("name", "x")]);
    }

    #[test]
    fn names_become_type_names() {
        assert_eq!(upper_camel("shop_cart"), "ShopCart");
        assert_eq!(upper_camel("cart2_v3"), "Cart2V3");
        assert_eq!(upper_camel("a__b_"), "AB");
    }

    #[test]
    fn every_template_is_filled_by_its_keys() {
        let crate_keys = [("name", "n"), ("sdk_dependency", "cairn-sdk = \"1\"")];
        let code_keys = [
            ("name", "n"),
            ("Name", "N"),
            ("source", "every event"),
            ("subscription", "Subscription::everything()"),
            ("stream", "example"),
        ];
        render(CARGO_TOML, &crate_keys);
        render(CARGO_CONFIG, &[]);
        render(GITIGNORE, &[]);
        render(AGGREGATE, &code_keys[..2]);
        render(PROJECTION, &code_keys);
        render(REACTOR, &[("name", "n"), ("Name", "N"), ("of", "o")]);
    }
}
