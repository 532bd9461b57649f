//! The pages' language: the one the person chose (the `accord-lang` cookie the switch
//! sets), else the first of their browser's `Accept-Language` that Accord speaks. The
//! catalogs themselves are `crate::i18n`'s.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

pub use crate::i18n::{Lang, Texts};

/// The chosen language: the `lang` cookie, else `Accept-Language` by its weights.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    if let Some(chosen) = super::cookie(headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c)) {
        return chosen;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::i18n::accepted)
        .unwrap_or_default()
}

/// The cookie the language switch sets.
pub const LANG_COOKIE: &str = "accord-lang";

impl<S: Send + Sync> FromRequestParts<S> for Texts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Texts {
            lang: lang_of(&parts.headers),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_chooses_by_weight_and_the_cookie_wins() {
        let mut h = HeaderMap::new();
        assert_eq!(lang_of(&h), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            "de-DE, sv;q=0.8, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(lang_of(&h), Lang::Sv);
        h.insert(header::ACCEPT_LANGUAGE, "en-US,sv;q=0.9".parse().unwrap());
        assert_eq!(lang_of(&h), Lang::En);
        h.insert(header::COOKIE, "accord-lang=sv".parse().unwrap());
        assert_eq!(lang_of(&h), Lang::Sv);
        let t = Texts { lang: Lang::Sv };
        assert_eq!(
            t.with("too-many-attempts", "minutes", 1),
            "För många försök. För din säkerhet, försök igen om en minut."
        );
    }
}
