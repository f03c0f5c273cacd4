//! Value types more than one service holds, kept here so that each is written once: money
//! (integer minor units and an ISO 4217 currency, never floating point) and the Indian PIN
//! code shape that pickups and partner coverage use. What a service says about a bad value
//! (field names, messages) stays with the service.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 code: three upper-case letters. Sent and stored as the code itself ("INR").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Indian rupees, counted in paise.
    pub const INR: Currency = Currency(*b"INR");

    /// The currency with this code, or `None` when it is not three upper-case letters.
    pub fn parse(code: &str) -> Option<Self> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Self(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Only `parse` builds one, from ASCII letters, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code).ok_or_else(|| {
            serde::de::Error::custom(format!("`{code}` is not an ISO 4217 currency code"))
        })
    }
}

/// An amount in the currency's minor units (paise for INR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    /// `amount_minor` paise.
    pub fn inr(amount_minor: i64) -> Self {
        Self {
            amount_minor,
            currency: Currency::INR,
        }
    }
}

/// [`is_pincode`] as a JSON Schema `pattern`, for the OpenAPI documents.
pub const PINCODE_PATTERN: &str = "^[1-9][0-9]{5}$";

/// What `char::is_whitespace` (and so `str::trim`) counts as whitespace, as the body of a
/// regex character class. Spelled out because `\s` names a different set in each dialect a
/// document meets: ECMA-262 (OpenAPI's) leaves out U+0085, Python adds U+001C–U+001F.
pub const WHITESPACE_CLASS: &str =
    r"\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// "Not blank" as a `pattern`: some character that is not whitespace, so a text the code
/// refuses as empty once trimmed ([`crate::validation::check_text`]) is also invalid by the
/// document. DTOs write `pattern = r"\S"`; the shell publishes this instead.
pub const NOT_BLANK_PATTERN: &str =
    r"[^\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// An Indian PIN code: six digits, the first not zero.
pub fn is_pincode(value: &str) -> bool {
    value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_currency_is_three_upper_case_letters() {
        assert_eq!(Currency::parse("INR"), Some(Currency::INR));
        assert!(Currency::parse("inr").is_none());
        assert!(Currency::parse("RUPEE").is_none());
        assert!(Currency::parse("IN").is_none());
    }

    #[test]
    fn money_is_sent_with_its_currency_code() {
        let json = serde_json::to_string(&Money::inr(4_000_000)).unwrap();
        assert_eq!(json, r#"{"amount_minor":4000000,"currency":"INR"}"#);
        assert_eq!(
            serde_json::from_str::<Money>(&json).unwrap(),
            Money::inr(4_000_000)
        );
        assert!(serde_json::from_str::<Currency>(r#""inr""#).is_err());
    }

    #[test]
    fn a_pincode_is_six_digits_not_starting_with_zero() {
        assert!(is_pincode("560001"));
        assert!(!is_pincode("060001"));
        assert!(!is_pincode("56001"));
        assert!(!is_pincode("56000a"));
    }

    #[test]
    fn the_not_blank_pattern_matches_every_character_rust_does_not_trim() {
        assert_eq!(NOT_BLANK_PATTERN, format!("[^{WHITESPACE_CLASS}]"));
        let pattern = regex::Regex::new(NOT_BLANK_PATTERN).unwrap();
        let mut buffer = [0u8; 4];
        for character in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let text: &str = character.encode_utf8(&mut buffer);
            assert_eq!(
                pattern.is_match(text),
                !text.trim().is_empty(),
                "U+{:04X}",
                u32::from(character)
            );
        }
    }

    #[test]
    fn the_pincode_pattern_accepts_exactly_what_the_code_accepts() {
        let pattern = regex::Regex::new(PINCODE_PATTERN).unwrap();
        for value in [
            "560001",
            "100000",
            "999999",
            "060001",
            "56001",
            "5600011",
            "56000a",
            "٥٦٠٠٠١",
            "",
            " 560001",
        ] {
            assert_eq!(pattern.is_match(value), is_pincode(value), "{value:?}");
        }
    }
}
