//! The catalog's JSON shapes. Kept apart from `domain` so the wire format can evolve (and be
//! documented with utoipa) without the rules depending on HTTP.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{
    Category, Deduction, DeviceModel, EARLIEST_RELEASE_YEAR, ModelStatus, Money, Question,
    Questionnaire, Variant,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CategoryDto {
    Phone,
    Laptop,
    Tablet,
    Watch,
}

impl From<CategoryDto> for Category {
    fn from(value: CategoryDto) -> Self {
        match value {
            CategoryDto::Phone => Category::Phone,
            CategoryDto::Laptop => Category::Laptop,
            CategoryDto::Tablet => Category::Tablet,
            CategoryDto::Watch => Category::Watch,
        }
    }
}

impl From<Category> for CategoryDto {
    fn from(value: Category) -> Self {
        match value {
            Category::Phone => CategoryDto::Phone,
            Category::Laptop => CategoryDto::Laptop,
            Category::Tablet => CategoryDto::Tablet,
            Category::Watch => CategoryDto::Watch,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusDto {
    Active,
    Retired,
}

impl From<ModelStatus> for StatusDto {
    fn from(value: ModelStatus) -> Self {
        match value {
            ModelStatus::Active => StatusDto::Active,
            ModelStatus::Retired => StatusDto::Retired,
        }
    }
}

impl From<StatusDto> for ModelStatus {
    fn from(value: StatusDto) -> Self {
        match value {
            StatusDto::Active => ModelStatus::Active,
            StatusDto::Retired => ModelStatus::Retired,
        }
    }
}

/// An amount in minor units (paise for INR) and its ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyDto {
    /// Between 1 and `MAX_BASE_PRICE_MINOR` (₹1 crore in paise).
    #[schema(example = 6450000, minimum = 1, maximum = 1_000_000_000)]
    pub amount_minor: i64,
    #[schema(example = "INR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

impl From<&Money> for MoneyDto {
    fn from(money: &Money) -> Self {
        Self {
            amount_minor: money.amount_minor,
            currency: money.currency.as_str().to_owned(),
        }
    }
}

/// How much an answer takes off the base price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeductionDto {
    /// A share of the base price in basis points (1500 = 15%).
    Percentage {
        #[schema(maximum = 10_000)]
        basis_points: u32,
    },
    /// A fixed amount in minor units of the variant's currency.
    Absolute {
        #[schema(minimum = 0)]
        amount_minor: i64,
    },
}

impl From<Deduction> for DeductionDto {
    fn from(value: Deduction) -> Self {
        match value {
            Deduction::Percentage { basis_points } => Self::Percentage { basis_points },
            Deduction::Absolute { amount_minor } => Self::Absolute { amount_minor },
        }
    }
}

impl From<DeductionDto> for Deduction {
    fn from(value: DeductionDto) -> Self {
        match value {
            DeductionDto::Percentage { basis_points } => Self::Percentage { basis_points },
            DeductionDto::Absolute { amount_minor } => Self::Absolute { amount_minor },
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VariantDto {
    pub id: Uuid,
    pub model_id: Uuid,
    #[schema(example = "128 GB")]
    pub name: String,
    /// What the platform pays for this variant in flawless condition.
    pub base_price: MoneyDto,
}

impl From<&Variant> for VariantDto {
    fn from(variant: &Variant) -> Self {
        Self {
            id: variant.id,
            model_id: variant.model_id,
            name: variant.name.clone(),
            base_price: (&variant.base_price).into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnswerOptionDto {
    pub id: Uuid,
    pub key: String,
    pub label: String,
    pub deduction: DeductionDto,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuestionDto {
    pub id: Uuid,
    pub key: String,
    pub text: String,
    /// Best condition first.
    pub options: Vec<AnswerOptionDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuestionnaireDto {
    pub category: CategoryDto,
    pub questions: Vec<QuestionDto>,
}

impl From<&Question> for QuestionDto {
    fn from(question: &Question) -> Self {
        Self {
            id: question.id,
            key: question.key.clone(),
            text: question.text.clone(),
            options: question
                .options
                .iter()
                .map(|option| AnswerOptionDto {
                    id: option.id,
                    key: option.key.clone(),
                    label: option.label.clone(),
                    deduction: option.deduction.into(),
                })
                .collect(),
        }
    }
}

impl From<&Questionnaire> for QuestionnaireDto {
    fn from(questionnaire: &Questionnaire) -> Self {
        Self {
            category: questionnaire.category.into(),
            questions: questionnaire
                .questions
                .iter()
                .map(QuestionDto::from)
                .collect(),
        }
    }
}

/// One row of the browse list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceSummary {
    pub id: Uuid,
    pub brand: String,
    pub name: String,
    pub category: CategoryDto,
    pub release_year: i32,
    pub variant_count: usize,
    /// The highest base price among the variants: "get up to".
    pub top_price: Option<MoneyDto>,
}

impl From<&DeviceModel> for DeviceSummary {
    fn from(model: &DeviceModel) -> Self {
        Self {
            id: model.id,
            brand: model.brand.clone(),
            name: model.name.clone(),
            category: model.category.into(),
            release_year: model.release_year,
            variant_count: model.variants.len(),
            top_price: model.top_price().map(MoneyDto::from),
        }
    }
}

pub use platform::pagination::Paged;

/// A device with everything a shopper needs to get a quote.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceDetail {
    pub id: Uuid,
    pub brand: String,
    pub name: String,
    pub category: CategoryDto,
    pub release_year: i32,
    /// Cheapest first.
    pub variants: Vec<VariantDto>,
    pub questionnaire: QuestionnaireDto,
}

/// The device a variant belongs to, retired or not, with its category's questionnaire:
/// everything another service (quote) needs to price that variant in one call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VariantDevice {
    pub variant_id: Uuid,
    /// Includes `status` (a retired model is not quotable) and `version` (newer wins).
    pub model: AdminDevice,
    pub questionnaire: QuestionnaireDto,
}

/// A device as admins manage it, retired or not.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminDevice {
    pub id: Uuid,
    pub brand: String,
    pub name: String,
    pub category: CategoryDto,
    pub release_year: i32,
    pub status: StatusDto,
    /// Bumped by every change to the model or its variants.
    pub version: i64,
    pub variants: Vec<VariantDto>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&DeviceModel> for AdminDevice {
    fn from(model: &DeviceModel) -> Self {
        Self {
            id: model.id,
            brand: model.brand.clone(),
            name: model.name.clone(),
            category: model.category.into(),
            release_year: model.release_year,
            status: model.status.into(),
            version: model.version,
            variants: model.variants.iter().map(VariantDto::from).collect(),
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

/// Release years run from [`EARLIEST_RELEASE_YEAR`] to next year, as of when the document
/// is built (the code checks against the year of each request).
fn release_year() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(EARLIEST_RELEASE_YEAR))
        .maximum(Some(super::current_year() + 1))
        .examples([2023])
        .build()
}

// Texts are trimmed, then must be non-empty (`pattern`: a character other than white space)
// and at most the domain's `MAX_*_CHARS`.

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVariantRequest {
    #[schema(example = "256 GB", min_length = 1, max_length = 60, pattern = r"\S")]
    pub name: String,
    pub base_price: MoneyDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModelRequest {
    #[schema(example = "Apple", min_length = 1, max_length = 60, pattern = r"\S")]
    pub brand: String,
    #[schema(
        example = "iPhone 15",
        min_length = 1,
        max_length = 120,
        pattern = r"\S"
    )]
    pub name: String,
    /// Checked with the other fields: an unknown category is one more violation.
    #[schema(schema_with = platform::schema::names::<Category>)]
    pub category: String,
    #[schema(schema_with = release_year)]
    pub release_year: i32,
    /// Variant names are unique within a model, ignoring case.
    #[serde(default)]
    pub variants: Vec<NewVariantRequest>,
}

/// Only the fields present change; at least one must be.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct ModelPatchRequest {
    #[schema(min_length = 1, max_length = 60, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub brand: Option<String>,
    #[schema(min_length = 1, max_length = 120, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub name: Option<String>,
    #[schema(schema_with = platform::schema::names::<Category>, nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub category: Option<String>,
    #[schema(schema_with = release_year, nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub release_year: Option<i32>,
}

/// Only the fields present change; at least one must be.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct VariantPatchRequest {
    #[schema(min_length = 1, max_length = 60, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub name: Option<String>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub base_price: Option<MoneyDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerOptionRequest {
    /// snake_case, unique within the question.
    #[schema(pattern = "^[a-z0-9][a-z0-9_]{0,47}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    pub label: String,
    pub deduction: DeductionDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionRequest {
    /// snake_case, unique within the questionnaire.
    #[schema(pattern = "^[a-z0-9][a-z0-9_]{0,47}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    pub text: String,
    /// Best condition first.
    #[schema(min_items = 2, max_items = 10)]
    pub options: Vec<AnswerOptionRequest>,
}

/// Replaces the whole questionnaire of a category. Keys keep their ids across replacements.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionnaireRequest {
    #[schema(min_items = 1, max_items = 20)]
    pub questions: Vec<QuestionRequest>,
}
