//! The catalog as the quote service sees it: a local copy (read model) of the models,
//! variants, base prices and questionnaires it needs to price a quote. Filled from
//! `catalog.events` and, when that misses, from the catalog's HTTP API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Money;

pub const FULL_PRICE_BASIS_POINTS: i64 = 10_000;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "snake_case")]
pub enum Category {
    Phone,
    Laptop,
    Tablet,
    Watch,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(value: &str) -> Option<Self> {
        value.parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogVariant {
    pub id: Uuid,
    pub name: String,
    /// What the platform pays for this variant in flawless condition.
    pub base_price: Money,
}

/// One device model as last seen from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogModel {
    pub id: Uuid,
    pub brand: String,
    pub name: String,
    pub category: Category,
    /// Retired models are not quoted any more.
    pub retired: bool,
    /// The catalog's version of the model: a snapshot only replaces an older one.
    pub version: i64,
    pub variants: Vec<CatalogVariant>,
}

impl CatalogModel {
    pub fn variant(&self, id: Uuid) -> Option<&CatalogVariant> {
        self.variants.iter().find(|variant| variant.id == id)
    }
}

/// How much an answer takes off the base price (the catalog's rule, copied here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Deduction {
    /// A share of the base price, in basis points (1500 = 15%).
    Percentage { basis_points: u32 },
    /// A fixed amount in the variant's currency's minor units.
    Absolute { amount_minor: i64 },
}

impl Deduction {
    /// The amount taken off `base_minor`: percentages are rounded down (in the shopper's
    /// favour) and no deduction is negative or larger than the base.
    pub fn amount_off(self, base_minor: i64) -> i64 {
        let off = match self {
            Deduction::Percentage { basis_points } => {
                let product = i128::from(base_minor) * i128::from(basis_points);
                i64::try_from(product / i128::from(FULL_PRICE_BASIS_POINTS)).unwrap_or(i64::MAX)
            }
            Deduction::Absolute { amount_minor } => amount_minor,
        };
        off.clamp(0, base_minor.max(0))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerOption {
    pub id: Uuid,
    pub key: String,
    pub label: String,
    pub deduction: Deduction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: Uuid,
    pub key: String,
    pub text: String,
    pub options: Vec<AnswerOption>,
}

/// The condition questions of one category; every question must be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Questionnaire {
    pub category: Category,
    pub questions: Vec<Question>,
    /// When the catalog stated it (event time, or fetch time): a newer one replaces it.
    pub as_of: DateTime<Utc>,
}

/// Everything needed to price one variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingSource {
    pub model: CatalogModel,
    pub variant: CatalogVariant,
    pub questionnaire: Questionnaire,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentage_deductions_round_down_in_the_shoppers_favour() {
        let ten_percent = Deduction::Percentage { basis_points: 1000 };
        assert_eq!(ten_percent.amount_off(12_345), 1_234);
    }

    #[test]
    fn a_deduction_never_takes_more_than_the_base_or_adds_to_it() {
        assert_eq!(
            Deduction::Absolute { amount_minor: 900 }.amount_off(500),
            500
        );
        assert_eq!(Deduction::Absolute { amount_minor: -5 }.amount_off(500), 0);
    }
}
