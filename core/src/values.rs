//! Typed values parsed once at the edge: emails, phones, external IDs, tags, names, link codes.
//!
//! Every constructor takes untrusted text and returns either the value or an [`Error::Input`]
//! whose message names the problem and the fix, so front-ends never validate anything.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

use crate::error::Error;
pub use crate::text::{describe_char, echo, is_format_char, is_hidden_char};

/// Refuses `raw` when it holds a character [`is_hidden_char`] names, saying which one and
/// where it was (`what`, like "the name").
pub fn refuse_hidden(raw: &str, what: &str) -> Result<(), Error> {
    match raw.chars().find(|c| is_hidden_char(*c)) {
        Some(c) => Err(Error::input(format!(
            "{what} holds {}: type it again without it",
            describe_char(c)
        ))),
        None => Ok(()),
    }
}

/// An email address, trimmed and lower-cased so uniqueness is case-insensitive
/// (docs/domain.md#users).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(Error::input(
                "the email is empty: give an address like ana@example.org",
            ));
        }
        refuse_hidden(&s, "the email")?;
        if !email_address::EmailAddress::is_valid(&s) || !s.contains('.') {
            return Err(Error::input(format!(
                "'{}' is not an email address: give one like ana@example.org",
                echo(raw.trim())
            )));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+5511987654321`). People log in by phone (docs/domain.md#users),
/// so it is unique; parsing accepts spaces, dashes, dots and brackets, and a national number when
/// the deployment sets a default region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// What a phone number may be written with besides the digits 0–9 (and spaces).
const PHONE_PUNCTUATION: &str = "+-.()";

impl Phone {
    /// `default_region` is an ISO 3166 code such as `BR`; `None` means numbers must start with `+`.
    ///
    /// Only ASCII digits, spaces and `+ - . ( )` are accepted, checked before the phonenumber
    /// crate sees the text: that crate reads letters as keypad digits (`+1 415 555 ABCD` would
    /// become `+14155552223`) and skips characters it does not know (a trailing NUL), so a typo
    /// would silently become somebody else's login.
    pub fn parse(raw: &str, default_region: Option<&str>) -> Result<Self, Error> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::input(
                "the phone is empty: give a number like +1 415 555 0100",
            ));
        }
        // Spaces of any width (a number pasted from a contact card may hold no-break spaces).
        let space = |c: char| c.is_whitespace() && !c.is_control();
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_digit() || space(*c) || PHONE_PUNCTUATION.contains(*c)))
        {
            return Err(Error::input(format!(
                "'{}' holds {}: a phone number has digits only, like +1 415 555 0100",
                echo(s),
                describe_char(c)
            )));
        }
        let s: String = s.chars().map(|c| if space(c) { ' ' } else { c }).collect();
        let s = s.as_str();
        let region = match default_region.filter(|r| !r.is_empty()) {
            Some(r) => Some(phonenumber::country::Id::from_str(&r.to_uppercase()).map_err(|_| {
                Error::input(format!(
                    "the configured phone region '{r}' is not an ISO country code (like US or BR)"
                ))
            })?),
            None => None,
        };
        if region.is_none() && !s.starts_with('+') {
            return Err(Error::input(format!(
                "'{}' has no country code: write it in international form, like +1 415 555 0100",
                echo(s)
            )));
        }
        let number = phonenumber::parse(region, s).map_err(|_| {
            Error::input(format!(
                "'{}' is not a phone number: write it like +1 415 555 0100",
                echo(s)
            ))
        })?;
        if !phonenumber::is_valid(&number) {
            return Err(Error::input(format!(
                "'{}' is not a valid number for its country: check the digits and the country code",
                echo(s)
            )));
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's full name as they want it shown: white space runs become one space; no
/// invisible characters ([`is_hidden_char`]: controls, and format characters such as the
/// right-to-left override, which would make the name display as another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.is_empty() {
            return Err(Error::input(
                "the name is empty: give the person's full name in quotes, like \"Ana Lima\"",
            ));
        }
        if s.chars().count() > 200 {
            return Err(Error::input(
                "the name is longer than 200 characters: shorten it",
            ));
        }
        refuse_hidden(&s, "the name")?;
        if s.starts_with('/') || s.starts_with('#') || s.contains('@') {
            return Err(Error::input(format!(
                "'{}' does not look like a name (it starts with / or # or holds an @): check the order of the arguments",
                echo(&s)
            )));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An identifier the program uses for a person outside mentorops; defaults to the phone
/// (docs/domain.md#users).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId(String);

impl ExternalId {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim();
        if s.is_empty() || s.len() > 100 || s.chars().any(char::is_whitespace) {
            return Err(Error::input(format!(
                "external ID '{}' must be 1–100 characters without spaces",
                echo(s)
            )));
        }
        refuse_hidden(s, "the external ID")?;
        Ok(Self(s.to_string()))
    }
    pub fn from_phone(phone: &Phone) -> Self {
        Self(phone.as_str().to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An identifier (a tag, docs/domain.md#users): `key=value`, keys lower-case `[a-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let bad = || {
            Error::input(format!(
                "tag '{}' is not key=value: write it like cohort=2026 (keys use a-z, 0-9, _ and -)",
                echo(raw.trim())
            ))
        };
        let (k, v) = raw.split_once('=').ok_or_else(bad)?;
        let key = k.trim().to_lowercase();
        let value = v.trim().to_string();
        if key.is_empty()
            || value.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad());
        }
        refuse_hidden(&value, &format!("the value of tag {}", echo(&key)))?;
        Ok(Self { key, value })
    }

    /// A comma-separated list, `cohort=2026,lang=es`; a key given twice is an error.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, Error> {
        let mut tags: Vec<Self> = Vec::new();
        for part in raw.split(',').filter(|p| !p.trim().is_empty()) {
            let tag = Self::parse(part)?;
            if tags.iter().any(|t| t.key == tag.key) {
                return Err(Error::input(format!(
                    "tag key '{}' is given twice: keep one",
                    echo(&tag.key)
                )));
            }
            tags.push(tag);
        }
        Ok(tags)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The alphabet of link codes: upper-case letters and digits without the look-alikes 0, O, 1, I
/// (docs/domain.md#linking), so a code can be read aloud and typed.
pub const LINK_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const LINK_CODE_LEN: usize = 8;

/// A single-use code that binds a chat account to a user (`/link CODE`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkCode(String);

impl LinkCode {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let code = (0..LINK_CODE_LEN)
            .map(|_| LINK_CODE_ALPHABET[rng.random_range(0..LINK_CODE_ALPHABET.len())] as char)
            .collect();
        Self(code)
    }

    /// Accepts what a person types: lower case, spaces or dashes between groups.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if s.len() != LINK_CODE_LEN || !s.bytes().all(|b| LINK_CODE_ALPHABET.contains(&b)) {
            return Err(Error::input(format!(
                "'{}' is not a link code: a code is {LINK_CODE_LEN} letters and digits, as in your welcome email",
                echo(raw.trim())
            )));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A random token for a two-step confirmation (permanent delete).
pub fn confirmation_token() -> String {
    LinkCode::generate().0
}

/// A duration as staff type it: `72h`, `3d`, `90m`, `15d`; a bare number is hours.
pub fn parse_duration(raw: &str) -> Result<chrono::Duration, Error> {
    let s = raw.trim().to_lowercase();
    let bad = || {
        Error::input(format!(
            "'{}' is not a duration: write a number with d, h or m, like 72h or 15d",
            echo(raw.trim())
        ))
    };
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], s[i..].trim()),
        None => (s.as_str(), "h"),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n <= 0 || n > 3650 * 24 * 60 {
        return Err(bad());
    }
    match unit {
        "d" | "day" | "days" => Ok(chrono::Duration::days(n)),
        "h" | "hour" | "hours" => Ok(chrono::Duration::hours(n)),
        "m" | "min" | "mins" | "minutes" => Ok(chrono::Duration::minutes(n)),
        _ => Err(bad()),
    }
}

/// Shows a duration the way it is typed back (`72h`, `15d`).
pub fn format_duration(d: chrono::Duration) -> String {
    let m = d.num_minutes();
    if m % (24 * 60) == 0 {
        format!("{}d", m / (24 * 60))
    } else if m % 60 == 0 {
        format!("{}h", m / 60)
    } else {
        format!("{m}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ana.Lima@Example.ORG ").map(|e| e.0).ok(),
            Some("ana.lima@example.org".into())
        );
        assert!(Email::parse("ana").is_err());
        assert!(Email::parse("").is_err());
    }

    #[test]
    fn phone_is_normalised_to_e164() {
        assert_eq!(
            Phone::parse("+1 (415) 555-0132", None).map(|p| p.0).ok(),
            Some("+14155550132".into())
        );
        assert_eq!(
            Phone::parse("(11) 98765-4321", Some("br"))
                .map(|p| p.0)
                .ok(),
            Some("+5511987654321".into())
        );
        let err = Phone::parse("415 555 0132", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("country code"), "{err}");
        assert!(Phone::parse("+1 123", None).is_err());
    }

    fn message<T: fmt::Debug>(r: Result<T, Error>) -> String {
        match r {
            Ok(v) => panic!("accepted: {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_phone_with_letters_or_invisible_characters_is_refused_with_the_fix() {
        // The phonenumber crate would read ABCD as keypad digits (+14155552223).
        let m = message(Phone::parse("+1 415 555 ABCD", None));
        assert!(
            m.contains("the letter 'A'")
                && m.contains("a phone number has digits only, like +1 415 555 0100"),
            "{m}"
        );
        let m = message(Phone::parse("+14155550100\u{0}", None));
        assert!(m.contains("U+0000") && m.contains("digits only"), "{m}");
        let m = message(Phone::parse("+1 415 555 0100 #2", None));
        assert!(m.contains("'#'"), "{m}");
        let m = message(Phone::parse("+1 415 555 0100 x12", None));
        assert!(m.contains("the letter 'x'"), "{m}");
        for ok in [
            "+1 415.555.0100",
            "+1 (415) 555-0100",
            "+1\u{a0}415\u{a0}555\u{a0}0100",
        ] {
            assert_eq!(
                Phone::parse(ok, None).map(|p| p.0).ok().as_deref(),
                Some("+14155550100"),
                "{ok}"
            );
        }
    }

    #[test]
    fn names_refuse_invisible_characters_but_keep_the_joiners_scripts_spell_with() {
        let m = message(FullName::parse("Ana\u{0}Lima"));
        assert!(
            m.contains("the name holds the invisible character U+0000"),
            "{m}"
        );
        let m = message(FullName::parse("Ana \u{202E}amiL"));
        assert!(m.contains("U+202E"), "{m}");
        let m = message(FullName::parse("Ana\u{200B} Lima"));
        assert!(m.contains("U+200B"), "{m}");
        for ok in ["Mohammad\u{200C}Reza Tehrani", "Ana Lima", "José Ñúñez"] {
            assert_eq!(FullName::parse(ok).map(|n| n.0).ok().as_deref(), Some(ok));
        }
    }

    #[test]
    fn identifiers_tags_and_emails_refuse_invisible_characters() {
        assert!(message(ExternalId::parse("STU\u{0}1")).contains("U+0000"));
        assert!(message(ExternalId::parse("STU\u{2066}1")).contains("U+2066"));
        assert!(message(Tag::parse("cohort=20\u{1}26")).contains("U+0001"));
        assert!(message(Email::parse("ana\u{0}@example.org")).contains("U+0000"));
    }

    #[test]
    fn a_huge_value_is_quoted_back_cut_short() {
        let huge = "9".repeat(100_000);
        for m in [
            message(Email::parse(&huge)),
            message(Phone::parse(&huge, None)),
            message(ExternalId::parse(&huge)),
            message(Tag::parse(&huge)),
            message(LinkCode::parse(&huge)),
            message(parse_duration(&format!("{huge}x"))),
        ] {
            assert!(m.len() < 300 && m.contains("999…"), "{m}");
        }
    }

    #[test]
    fn link_codes_avoid_look_alikes_and_parse_back() {
        for _ in 0..200 {
            let c = LinkCode::generate();
            assert_eq!(c.0.len(), LINK_CODE_LEN);
            assert!(!c.0.contains(['0', 'O', '1', 'I']));
            assert_eq!(LinkCode::parse(&c.0.to_lowercase()).ok(), Some(c));
        }
        assert!(LinkCode::parse("ABCD0FGH").is_err());
        assert!(LinkCode::parse("ABC").is_err());
    }

    #[test]
    fn tags_parse_as_key_value_lists() {
        let tags = Tag::parse_list("Cohort=2026, lang=es").unwrap_or_default();
        assert_eq!(
            tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            ["cohort=2026", "lang=es"]
        );
        assert!(Tag::parse_list("a=1,a=2").is_err());
        assert!(Tag::parse("novalue").is_err());
    }

    #[test]
    fn durations_round_trip() {
        for (raw, shown) in [("72h", "3d"), ("15d", "15d"), ("90m", "90m"), ("36", "36h")] {
            let d = parse_duration(raw).map(format_duration).unwrap_or_default();
            assert_eq!(d, shown);
        }
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0h").is_err());
    }
}
