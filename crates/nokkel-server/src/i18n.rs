//! Languages and translations: Bokmål, Nynorsk and English from the shared Fluent files in
//! `assets/i18n/` (the app reads the same files), chosen by `?lang=`, a cookie, or
//! `Accept-Language`.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{static_loader, LanguageIdentifier, Loader};
use unic_langid::langid;

static_loader! {
    // Immutable, compiled-in translation data, not application state.
    static LOCALES = {
        locales: "../../assets/i18n",
        fallback_language: "nb",
        // Bidi isolation marks confuse screen readers reading mixed Norwegian text and
        // numbers, and we never interpolate right-to-left text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language the pages are offered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Norwegian Bokmål, the default.
    #[default]
    Nb,
    /// Norwegian Nynorsk.
    Nn,
    /// English.
    En,
}

/// The name of the cookie that remembers a chosen language.
pub const LANG_COOKIE: &str = "nokkel_lang";

impl Lang {
    /// All languages in the order the switcher shows them.
    pub const ALL: [Lang; 3] = [Lang::Nb, Lang::Nn, Lang::En];

    /// The BCP 47 tag, as used in `lang` attributes and `?lang=`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::Nn => "nn",
            Lang::En => "en",
        }
    }

    /// The language's own name, for the switcher.
    pub fn endonym(self) -> &'static str {
        match self {
            Lang::Nb => "Bokmål",
            Lang::Nn => "Nynorsk",
            Lang::En => "English",
        }
    }

    /// Parses a tag such as `nb`, `nn`, `en`, `no`, `nb-NO` or `en-GB`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "nb" | "no" => Some(Lang::Nb),
            "nn" => Some(Lang::Nn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Picks the best language from an `Accept-Language` header, honouring q-values.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let Some(lang) = pieces.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::Nb => langid!("nb"),
            Lang::Nn => langid!("nn"),
            Lang::En => langid!("en"),
        }
    }

    /// The translation of `key`; the key itself if it is missing (a test checks none is).
    pub fn t(self, key: &str) -> String {
        LOCALES
            .try_lookup(&self.id(), key)
            .unwrap_or_else(|| key.to_owned())
    }

    /// The translation of `key` with named arguments.
    pub fn t_args(self, key: &str, args: &[(&str, String)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(name, value)| {
                (
                    Cow::Owned((*name).to_owned()),
                    FluentValue::from(value.clone()),
                )
            })
            .collect();
        LOCALES
            .try_lookup_with_args(&self.id(), key, &args)
            .unwrap_or_else(|| key.to_owned())
    }

    /// A date written out the way each language writes it, e.g. "7. desember 2026".
    pub fn date(self, date: time::Date) -> String {
        let month = self.t(&format!("month-{}", u8::from(date.month())));
        match self {
            // No-break spaces: a date never wraps between its parts.
            Lang::Nb | Lang::Nn => format!("{}.\u{a0}{}\u{a0}{}", date.day(), month, date.year()),
            Lang::En => format!("{}\u{a0}{}\u{a0}{}", date.day(), month, date.year()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_highest_quality_known_language() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("de;q=1.0, nn;q=0.8, en;q=0.5"),
            Some(Lang::Nn)
        );
        assert_eq!(
            Lang::from_accept_language("nb-NO,nb;q=0.9,en;q=0.8"),
            Some(Lang::Nb)
        );
        assert_eq!(Lang::from_accept_language("no"), Some(Lang::Nb));
        assert_eq!(Lang::from_accept_language("fr, de"), None);
        assert_eq!(Lang::from_accept_language("en;q=0"), None);
    }

    #[test]
    fn every_key_is_translated_in_every_language() {
        let keys = fluent_keys(include_str!("../../../assets/i18n/nb/main.ftl"));
        assert!(keys.len() > 20, "the Bokmål file has keys");
        for lang in Lang::ALL {
            let file = match lang {
                Lang::Nb => include_str!("../../../assets/i18n/nb/main.ftl"),
                Lang::Nn => include_str!("../../../assets/i18n/nn/main.ftl"),
                Lang::En => include_str!("../../../assets/i18n/en/main.ftl"),
            };
            let own = fluent_keys(file);
            let missing: Vec<_> = keys.iter().filter(|k| !own.contains(k)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.tag());
            let extra: Vec<_> = own.iter().filter(|k| !keys.contains(k)).collect();
            assert!(
                extra.is_empty(),
                "{} has keys Bokmål lacks: {extra:?}",
                lang.tag()
            );
        }
    }

    #[test]
    fn dates_are_written_per_language() {
        let d = time::macros::date!(2026 - 12 - 07);
        assert_eq!(Lang::Nb.date(d), "7.\u{a0}desember\u{a0}2026");
        assert_eq!(Lang::Nn.date(d), "7.\u{a0}desember\u{a0}2026");
        assert_eq!(Lang::En.date(d), "7\u{a0}December\u{a0}2026");
    }

    fn fluent_keys(file: &str) -> Vec<String> {
        file.lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim().to_owned()))
            .collect()
    }
}
