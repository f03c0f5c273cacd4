//! The catalog's JSON shapes. Kept apart from `domain` so the wire format can evolve (and be
//! documented with utoipa) without the rules depending on HTTP.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{
    Category, Deduction, DeviceModel, ModelStatus, Money, Question, Questionnaire, Variant,
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
    #[schema(example = 6450000)]
    pub amount_minor: i64,
    #[schema(example = "INR")]
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
    Percentage { basis_points: u32 },
    /// A fixed amount in minor units of the variant's currency.
    Absolute { amount_minor: i64 },
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVariantRequest {
    #[schema(example = "256 GB")]
    pub name: String,
    pub base_price: MoneyDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModelRequest {
    #[schema(example = "Apple")]
    pub brand: String,
    #[schema(example = "iPhone 15")]
    pub name: String,
    pub category: CategoryDto,
    #[schema(example = 2023)]
    pub release_year: i32,
    #[serde(default)]
    pub variants: Vec<NewVariantRequest>,
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPatchRequest {
    pub brand: Option<String>,
    pub name: Option<String>,
    pub category: Option<CategoryDto>,
    pub release_year: Option<i32>,
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantPatchRequest {
    pub name: Option<String>,
    pub base_price: Option<MoneyDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerOptionRequest {
    pub key: String,
    pub label: String,
    pub deduction: DeductionDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionRequest {
    pub key: String,
    pub text: String,
    /// Best condition first.
    pub options: Vec<AnswerOptionRequest>,
}

/// Replaces the whole questionnaire of a category. Keys keep their ids across replacements.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionnaireRequest {
    pub questions: Vec<QuestionRequest>,
}
