//! Every visible string of the pages from Fluent message catalogs (`locales/<lang>/web.ftl`,
//! compiled in), in the language the person chose (the `lang` cookie the switch sets) or
//! else the first of their browser's `Accept-Language` that Accord speaks.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Placeables are written into HTML, where the bidi isolation marks would show.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The languages of the pages, in the switch's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Sv,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Sv];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Sv => "sv",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Sv => "Svenska",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    fn id(self) -> LanguageIdentifier {
        self.code().parse().expect("a language code")
    }

    /// The chosen language: the `lang` cookie, else `Accept-Language` by its weights.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(chosen) = super::cookie(headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c))
        {
            return chosen;
        }
        let Some(accept) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::En;
        };
        let mut offers: Vec<(f32, Lang)> = accept
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
        offers.first().map_or(Lang::En, |(_, l)| *l)
    }
}

/// The cookie the language switch sets.
pub const LANG_COOKIE: &str = "accord-lang";

/// The messages of one language, as templates use them: `t.get("key")`.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    pub lang: Lang,
}

impl Texts {
    pub fn get(&self, key: &str) -> String {
        LOCALES.lookup(&self.lang.id(), key)
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
        LOCALES.lookup_with_args(&self.lang.id(), key, &args)
    }

    /// Whether the message is in this language's catalog (given the arguments any page
    /// message takes).
    pub fn has(&self, key: &str) -> bool {
        let args: HashMap<Cow<'static, str>, FluentValue> = [
            (Cow::Borrowed("minutes"), FluentValue::from(2)),
            (Cow::Borrowed("address"), FluentValue::from("a@example.com")),
            (Cow::Borrowed("organisation"), FluentValue::from("Example")),
        ]
        .into();
        LOCALES
            .try_lookup_with_args(&self.lang.id(), key, &args)
            .is_some()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Texts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Texts {
            lang: Lang::of(&parts.headers),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ftl: &str) -> Vec<&str> {
        ftl.lines()
            .filter(|l| !l.starts_with([' ', '#', '}', '*', '[']) && l.contains(" ="))
            .filter_map(|l| l.split(" =").next())
            .collect()
    }

    #[test]
    fn every_language_has_every_message() {
        let english = keys(include_str!("../../locales/en/web.ftl"));
        let swedish = keys(include_str!("../../locales/sv/web.ftl"));
        assert!(english.len() > 40, "{english:?}");
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

    #[test]
    fn the_browser_chooses_by_weight_and_the_cookie_wins() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::of(&h), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            "de-DE, sv;q=0.8, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::of(&h), Lang::Sv);
        h.insert(header::ACCEPT_LANGUAGE, "en-US,sv;q=0.9".parse().unwrap());
        assert_eq!(Lang::of(&h), Lang::En);
        h.insert(header::COOKIE, "accord-lang=sv".parse().unwrap());
        assert_eq!(Lang::of(&h), Lang::Sv);
        let t = Texts { lang: Lang::Sv };
        assert_eq!(
            t.with("too-many-attempts", "minutes", 1),
            "För många försök. För din säkerhet, försök igen om en minut."
        );
    }
}
