//! Every string Accord writes to people, pages and mails alike, from Fluent message
//! catalogs (`locales/<lang>/*.ftl`, compiled in), in the person's language.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

pub use accord_domain::identity::Language as Lang;
use accord_domain::Rule;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Placeables are written into HTML, where the bidi isolation marks would show.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Each language's identifier, parsed once.
static IDS: LazyLock<[LanguageIdentifier; 2]> =
    LazyLock::new(|| Lang::ALL.map(|l| l.code().parse().expect("a language code")));

fn index(lang: Lang) -> usize {
    Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0)
}

fn id(lang: Lang) -> &'static LanguageIdentifier {
    &IDS[index(lang)]
}

/// The first language of an `Accept-Language` value, by its weights, that Accord speaks.
pub fn accepted(accept_language: &str) -> Option<Lang> {
    let mut offers: Vec<(f32, Lang)> = accept_language
        .split(',')
        .take(20)
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let lang = Lang::from_code(pieces.next()?)?;
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (q > 0.0).then_some((q, lang))
        })
        .collect();
    // Stable: equal weights keep the browser's order.
    offers.sort_by(|a, b| b.0.total_cmp(&a.0));
    offers.first().map(|(_, l)| *l)
}

/// The messages of one language, as templates use them: `t.get("key")`.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    pub lang: Lang,
}

impl Texts {
    /// The person's language, English when they never chose one.
    pub fn of(lang: Option<Lang>) -> Self {
        Self {
            lang: lang.unwrap_or_default(),
        }
    }

    pub fn get(&self, key: &str) -> String {
        LOCALES.lookup(id(self.lang), key)
    }

    /// A message with one argument (`{ $name }`); a number selects its plural form.
    pub fn with(
        &self,
        key: &str,
        name: &'static str,
        value: impl Into<FluentValue<'static>>,
    ) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> =
            [(Cow::Borrowed(name), value.into())].into();
        LOCALES.lookup_with_args(id(self.lang), key, &args)
    }

    /// A message with several arguments.
    pub fn with_args(&self, key: &str, args: &[(&'static str, FluentValue<'static>)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
            .collect();
        LOCALES.lookup_with_args(id(self.lang), key, &args)
    }

    /// A rule the person's value broke, in words.
    pub fn rule(&self, rule: &Rule) -> String {
        use accord_domain::identity::{PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS};
        match rule {
            Rule::EmailInvalid => self.get("rule-email-invalid"),
            Rule::PasswordTooShort => {
                self.with("rule-password-too-short", "count", PASSWORD_MIN_CHARS)
            }
            Rule::PasswordTooLong => {
                self.with("rule-password-too-long", "count", PASSWORD_MAX_BYTES)
            }
            Rule::PasswordIsEmail => self.get("rule-password-is-email"),
            Rule::TextTooLong { field, max } => self.with_args(
                "rule-text-too-long",
                &[
                    ("field", self.field(field).into()),
                    ("count", (*max).into()),
                ],
            ),
            Rule::TextUnprintable { field } => {
                self.with("rule-text-unprintable", "field", self.field(field))
            }
            Rule::AlreadyTheAddress => self.get("rule-already-the-address"),
        }
    }

    /// A field's name as a rule's subject ("The name"); a field no page shows, as it is.
    fn field(&self, field: &str) -> String {
        let key = format!("field-{field}");
        if LOCALES.try_lookup(id(self.lang), &key).is_some() {
            self.get(&key)
        } else {
            field.to_owned()
        }
    }

    /// Whether the message is in this language's catalog (given the arguments any
    /// message takes).
    pub fn has(&self, key: &str) -> bool {
        let args: HashMap<Cow<'static, str>, FluentValue> = [
            ("minutes", FluentValue::from(2)),
            ("hours", FluentValue::from(2)),
            ("days", FluentValue::from(2)),
            ("address", FluentValue::from("a@example.com")),
            ("organisation", FluentValue::from("Example")),
            ("what", FluentValue::from("something")),
            ("date", FluentValue::from("2026-01-01")),
            ("due", FluentValue::from("2026-01-31")),
            ("state", FluentValue::from("initiated")),
            ("count", FluentValue::from(8)),
            ("field", FluentValue::from("The name")),
            ("version", FluentValue::from(3)),
        ]
        .into_iter()
        .map(|(k, v)| (Cow::Borrowed(k), v))
        .collect();
        LOCALES
            .try_lookup_with_args(id(self.lang), key, &args)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of a catalog's messages.
    fn keys(ftl: &str) -> impl Iterator<Item = &str> {
        ftl.lines()
            .filter(|l| !l.starts_with([' ', '#', '}', '*', '[']) && l.contains(" ="))
            .filter_map(|l| l.split(" =").next())
    }

    #[test]
    fn every_language_has_every_message() {
        for (english, swedish) in [
            (
                include_str!("../locales/en/web.ftl"),
                include_str!("../locales/sv/web.ftl"),
            ),
            (
                include_str!("../locales/en/mail.ftl"),
                include_str!("../locales/sv/mail.ftl"),
            ),
        ] {
            let english: Vec<&str> = keys(english).collect();
            let swedish: Vec<&str> = keys(swedish).collect();
            assert!(english.len() > 10, "{english:?}");
            let mut a = english.clone();
            let mut b = swedish.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b, "the catalogs name the same messages");
            for lang in Lang::ALL {
                for key in &english {
                    assert!(Texts { lang }.has(key), "{key} in {}", lang.code());
                }
            }
        }
    }
}
