//! Words of the published language that services hold as typed values rather than the
//! strings the protobuf messages carry: a device [`Category`] (catalog events' `category`),
//! a fulfilment [`JobKind`] (fulfilment events' `kind`), and a questionnaire's [`Question`]s,
//! their [`AnswerOption`]s and what an answer's [`Deduction`] takes off a price. Each is
//! declared here once, so the service that states a word and the services that read it
//! cannot drift apart.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Basis points in a whole price: a 10 000 basis-point deduction takes all of it.
const FULL_PRICE_BASIS_POINTS: i128 = 10_000;

/// The kind of device a model is; questionnaires are per category.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
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

/// What a fulfilment job does with the device: the partner portal shows the same names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr, strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
pub enum JobKind {
    Pickup,
    Inspection,
    Return,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(value: &str) -> Option<Self> {
        value.parse().ok()
    }
}

/// How much an answer takes off the base price (the catalog's rule, which quote applies).
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
                i64::try_from(product / FULL_PRICE_BASIS_POINTS).unwrap_or(i64::MAX)
            }
            Deduction::Absolute { amount_minor } => amount_minor,
        };
        off.clamp(0, base_minor.max(0))
    }
}

/// One answer a shopper may give to a condition question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerOption {
    pub id: Uuid,
    pub key: String,
    pub label: String,
    pub deduction: Deduction,
}

/// One condition question of a category's questionnaire, its options best condition first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: Uuid,
    pub key: String,
    pub text: String,
    pub options: Vec<AnswerOption>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

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
        assert_eq!(
            Deduction::Percentage {
                basis_points: 10_000
            }
            .amount_off(i64::MAX),
            i64::MAX
        );
        assert_eq!(Deduction::Absolute { amount_minor: -5 }.amount_off(500), 0);
    }

    #[test]
    fn words_round_trip_through_their_names() {
        for category in Category::iter() {
            assert_eq!(Category::parse(category.as_str()), Some(category));
        }
        assert_eq!(
            JobKind::iter().map(JobKind::as_str).collect::<Vec<_>>(),
            ["pickup", "inspection", "return"]
        );
        assert_eq!(JobKind::parse("Pickup"), None);
    }
}
