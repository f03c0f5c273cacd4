//! The catalog as the quote service sees it: a local copy (read model) of the models,
//! variants, base prices and questionnaires it needs to price a quote. Filled from
//! `catalog.events` and, when that misses, from the catalog's HTTP API.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Money;

pub const FULL_PRICE_BASIS_POINTS: i64 = 10_000;

pub use events::vocabulary::Category;

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

/// The catalog's questions and how much an answer takes off the base price, as the catalog
/// states them.
pub use events::vocabulary::{AnswerOption, Deduction, Question};

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
