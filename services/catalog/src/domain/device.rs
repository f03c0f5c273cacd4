use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Violations, check_text};

pub const MAX_BRAND_CHARS: usize = 60;
pub const MAX_MODEL_NAME_CHARS: usize = 120;
pub const MAX_VARIANT_NAME_CHARS: usize = 60;
pub const EARLIEST_RELEASE_YEAR: i32 = 2000;
/// A base price above this (₹1 crore in paise) is certainly a typo.
pub const MAX_BASE_PRICE_MINOR: i64 = 1_000_000_000;

pub use events::vocabulary::Category;

platform::named_enum! {
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    #[strum(serialize_all = "snake_case")]
    pub enum ModelStatus {
        /// Listed and quotable.
        Active,
        /// Withdrawn: hidden from browse, kept so existing quotes and orders still resolve.
        Retired,
    }
}

pub use platform::values::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub id: Uuid,
    pub model_id: Uuid,
    pub name: String,
    pub base_price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceModel {
    pub id: Uuid,
    pub brand: String,
    pub name: String,
    pub category: Category,
    pub release_year: i32,
    pub status: ModelStatus,
    /// Bumped by every change to the model or its variants; writes check it.
    pub version: i64,
    pub variants: Vec<Variant>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated new model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDraft {
    pub brand: String,
    pub name: String,
    pub category: Category,
    pub release_year: i32,
    pub variants: Vec<VariantDraft>,
}

/// A validated new variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantDraft {
    pub name: String,
    pub base_price: Money,
}

/// A validated partial update of a model; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelPatch {
    pub brand: Option<String>,
    pub name: Option<String>,
    pub category: Option<Category>,
    pub release_year: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariantPatch {
    pub name: Option<String>,
    pub base_price: Option<Money>,
}

fn check_release_year(violations: &mut Violations, field: &str, year: i32, current_year: i32) {
    violations.check(
        (EARLIEST_RELEASE_YEAR..=current_year + 1).contains(&year),
        field,
        format!(
            "must be between {EARLIEST_RELEASE_YEAR} and {}",
            current_year + 1
        ),
    );
}

fn check_price(violations: &mut Violations, field: &str, amount_minor: i64, currency: &str) {
    violations.check(
        (1..=MAX_BASE_PRICE_MINOR).contains(&amount_minor),
        format!("{field}.amount_minor"),
        format!("must be between 1 and {MAX_BASE_PRICE_MINOR}"),
    );
    violations.check(
        Currency::parse(currency).is_some(),
        format!("{field}.currency"),
        "must be an ISO 4217 code such as INR",
    );
}

impl VariantDraft {
    pub fn parse(
        field: &str,
        name: &str,
        amount_minor: i64,
        currency: &str,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        check_text(
            &mut violations,
            &format!("{field}name"),
            name,
            MAX_VARIANT_NAME_CHARS,
        );
        check_price(
            &mut violations,
            &format!("{field}base_price"),
            amount_minor,
            currency,
        );
        let currency = Currency::parse(currency);
        match currency {
            Some(currency) if violations.0.is_empty() => Ok(Self {
                name: name.trim().to_owned(),
                base_price: Money {
                    amount_minor,
                    currency,
                },
            }),
            _ => Err(violations),
        }
    }
}

impl ModelDraft {
    pub fn parse(
        brand: &str,
        name: &str,
        category: Category,
        release_year: i32,
        variants: Vec<Result<VariantDraft, Violations>>,
        current_year: i32,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        check_text(&mut violations, "brand", brand, MAX_BRAND_CHARS);
        check_text(&mut violations, "name", name, MAX_MODEL_NAME_CHARS);
        check_release_year(&mut violations, "release_year", release_year, current_year);
        let mut drafts = Vec::with_capacity(variants.len());
        for variant in variants {
            match variant {
                Ok(draft) => drafts.push(draft),
                Err(more) => violations.0.extend(more.0),
            }
        }
        let mut names: Vec<String> = drafts.iter().map(|v| v.name.to_lowercase()).collect();
        names.sort();
        names.dedup();
        violations.check(
            names.len() == drafts.len(),
            "variants",
            "variant names must be unique within a model",
        );
        violations.into_result(Self {
            brand: brand.trim().to_owned(),
            name: name.trim().to_owned(),
            category,
            release_year,
            variants: drafts,
        })
    }
}

impl ModelPatch {
    pub fn parse(
        brand: Option<&str>,
        name: Option<&str>,
        category: Option<Category>,
        release_year: Option<i32>,
        current_year: i32,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        if let Some(brand) = brand {
            check_text(&mut violations, "brand", brand, MAX_BRAND_CHARS);
        }
        if let Some(name) = name {
            check_text(&mut violations, "name", name, MAX_MODEL_NAME_CHARS);
        }
        if let Some(year) = release_year {
            check_release_year(&mut violations, "release_year", year, current_year);
        }
        let patch = Self {
            brand: brand.map(|value| value.trim().to_owned()),
            name: name.map(|value| value.trim().to_owned()),
            category,
            release_year,
        };
        violations.check(
            patch != Self::default(),
            "body",
            "change at least one field",
        );
        violations.into_result(patch)
    }
}

impl VariantPatch {
    pub fn parse(name: Option<&str>, price: Option<(i64, &str)>) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        if let Some(name) = name {
            check_text(&mut violations, "name", name, MAX_VARIANT_NAME_CHARS);
        }
        if let Some((amount_minor, currency)) = price {
            check_price(&mut violations, "base_price", amount_minor, currency);
        }
        violations.check(
            name.is_some() || price.is_some(),
            "body",
            "change at least one field",
        );
        if !violations.0.is_empty() {
            return Err(violations);
        }
        Ok(Self {
            name: name.map(|value| value.trim().to_owned()),
            base_price: price.and_then(|(amount_minor, currency)| {
                Currency::parse(currency).map(|currency| Money {
                    amount_minor,
                    currency,
                })
            }),
        })
    }
}

impl DeviceModel {
    /// The best price the platform pays for this model: what browse lists as "get up to".
    pub fn top_price(&self) -> Option<&Money> {
        self.variants
            .iter()
            .map(|variant| &variant.base_price)
            .max_by_key(|price| price.amount_minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(name: &str, amount: i64) -> Result<VariantDraft, Violations> {
        VariantDraft::parse("variants[0].", name, amount, "INR")
    }

    #[test]
    fn a_complete_model_is_accepted_and_trimmed() {
        let draft = ModelDraft::parse(
            " Apple ",
            "iPhone 15",
            Category::Phone,
            2023,
            vec![variant("128 GB", 4_000_000)],
            2026,
        )
        .unwrap();
        assert_eq!(draft.brand, "Apple");
        assert_eq!(draft.variants.len(), 1);
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let error = ModelDraft::parse("", "", Category::Phone, 1990, vec![variant("", 0)], 2026)
            .unwrap_err();
        let fields: Vec<&str> = error.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "brand",
                "name",
                "release_year",
                "variants[0].name",
                "variants[0].base_price.amount_minor"
            ]
        );
    }

    #[test]
    fn variant_names_must_be_unique_ignoring_case() {
        let error = ModelDraft::parse(
            "A",
            "B",
            Category::Watch,
            2024,
            vec![variant("41 mm", 100), variant("41 MM", 200)],
            2026,
        )
        .unwrap_err();
        assert_eq!(error.0[0].field, "variants");
    }

    #[test]
    fn an_empty_patch_is_refused() {
        assert!(ModelPatch::parse(None, None, None, None, 2026).is_err());
        assert!(VariantPatch::parse(None, None).is_err());
    }
}
