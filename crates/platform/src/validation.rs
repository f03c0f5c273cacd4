//! Input rules report every broken field at once, so a client fixes a form in one round
//! trip; services turn [`Violations`] into a 422 `validation_failed` with the list.

/// A rule a value broke: which field, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    pub field: String,
    pub message: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// All violations of one input, so a client can fix them in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.0.push(Violation::new(field, message));
        }
    }

    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for Violations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|violation| format!("{}: {}", violation.field, violation.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// Checks a human-entered text: not blank once trimmed, and at most `max` characters as sent,
/// as its schema says (`maxLength`, and `pattern` [`crate::values::NOT_BLANK_PATTERN`]).
pub fn check_text(violations: &mut Violations, field: &str, value: &str, max: usize) {
    violations.check(!value.trim().is_empty(), field, "must not be empty");
    violations.check(
        value.chars().count() <= max,
        field,
        format!("must be at most {max} characters"),
    );
}

/// For an optional field of a change request,
/// `#[serde(default, deserialize_with = "platform::validation::not_null")]` with
/// `#[schema(nullable = false)]`: absent leaves the value as it is, and `null` is refused
/// (422 `invalid_body`) instead of being read as absent, as the document says.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod not_null_tests {
    #[derive(Debug, serde::Deserialize)]
    struct Change {
        #[serde(default, deserialize_with = "super::not_null")]
        name: Option<String>,
    }

    #[test]
    fn an_absent_field_is_none_and_a_null_one_is_refused() {
        let absent: Change = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.name, None);
        let given: Change = serde_json::from_str(r#"{"name": "x"}"#).unwrap();
        assert_eq!(given.name.as_deref(), Some("x"));
        assert!(serde_json::from_str::<Change>(r#"{"name": null}"#).is_err());
    }
}
