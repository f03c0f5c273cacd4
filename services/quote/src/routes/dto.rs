//! The quote service's JSON shapes. Kept apart from `domain` so the wire format can evolve
//! (and be documented with utoipa) without the rules depending on HTTP.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

// Schema limits are literals (the derive takes no constants); tests/api/openapi.rs checks
// them against the constants the code enforces.
use crate::domain::{
    Adjustment, AdjustmentScope, Answer, AnswerChange, BreakdownKind, BreakdownLine, LockedQuote,
    Money, Quote, QuoteStatus,
};
pub use platform::pagination::Paged;

/// At most this many characters of a `shopper_id` (a token's `sub`).
pub const MAX_SHOPPER_ID_CHARS: usize = 255;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoneyDto {
    /// Integer minor units (paise for INR).
    #[schema(example = 4_250_000)]
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

/// One condition answer: the option chosen for a question of the category's questionnaire.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDto {
    pub question_id: Uuid,
    pub option_id: Uuid,
}

impl From<AnswerDto> for Answer {
    fn from(dto: AnswerDto) -> Self {
        Self {
            question_id: dto.question_id,
            option_id: dto.option_id,
        }
    }
}

impl From<Answer> for AnswerDto {
    fn from(answer: Answer) -> Self {
        Self {
            question_id: answer.question_id,
            option_id: answer.option_id,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuoteRequest {
    pub variant_id: Uuid,
    /// Exactly one answer per question of the category's questionnaire.
    #[schema(max_items = 50)]
    pub answers: Vec<AnswerDto>,
    /// Where the device will be picked up: a 6-digit PIN code.
    #[schema(example = "560001", pattern = "^[1-9][0-9]{5}$")]
    pub pincode: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakdownKindDto {
    BasePrice,
    Deduction,
    Adjustment,
    Floor,
}

impl From<BreakdownKind> for BreakdownKindDto {
    fn from(kind: BreakdownKind) -> Self {
        match kind {
            BreakdownKind::BasePrice => Self::BasePrice,
            BreakdownKind::Deduction => Self::Deduction,
            BreakdownKind::Adjustment => Self::Adjustment,
            BreakdownKind::Floor => Self::Floor,
        }
    }
}

/// One step of the price; the lines add up to the price.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BreakdownLineDto {
    pub kind: BreakdownKindDto,
    pub label: String,
    /// Signed minor units: deductions are negative.
    pub amount_minor: i64,
}

impl From<&BreakdownLine> for BreakdownLineDto {
    fn from(line: &BreakdownLine) -> Self {
        Self {
            kind: line.kind.into(),
            label: line.label.clone(),
            amount_minor: line.amount_minor,
        }
    }
}

pub fn breakdown(lines: &[BreakdownLine]) -> Vec<BreakdownLineDto> {
    lines.iter().map(BreakdownLineDto::from).collect()
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuoteStatusDto {
    Active,
    Locked,
    Expired,
}

impl From<QuoteStatus> for QuoteStatusDto {
    fn from(status: QuoteStatus) -> Self {
        match status {
            QuoteStatus::Active => Self::Active,
            QuoteStatus::Locked => Self::Locked,
            QuoteStatus::Expired => Self::Expired,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteDto {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub model_id: Uuid,
    pub status: QuoteStatusDto,
    pub price: MoneyDto,
    pub breakdown: Vec<BreakdownLineDto>,
    pub answers: Vec<AnswerDto>,
    pub pincode: String,
    /// The price holds until then.
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl QuoteDto {
    pub fn new(quote: &Quote, now: DateTime<Utc>) -> Self {
        Self {
            id: quote.id,
            variant_id: quote.variant_id,
            model_id: quote.model_id,
            status: quote.status_at(now).into(),
            price: (&quote.price).into(),
            breakdown: breakdown(&quote.breakdown),
            answers: quote
                .answers
                .iter()
                .map(|answer| answer.answer().into())
                .collect(),
            pincode: quote.pincode.clone(),
            expires_at: quote.expires_at,
            created_at: quote.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockRequest {
    /// The order the quote is to back.
    pub order_id: Uuid,
    /// The shopper placing the order: must own the quote.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub shopper_id: String,
    /// When the order was accepted: the quote must have been valid then, however late the
    /// lock comes (the order service may have been unable to reach quote for a while).
    /// Absent, or later than now: now.
    #[serde(default)]
    pub accepted_at: Option<DateTime<Utc>>,
}

/// The quote as locked to the order. Repeating the lock with the same order answers the
/// same fields, including the same `locked_at`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LockResponse {
    pub quote_id: Uuid,
    pub order_id: Uuid,
    pub variant_id: Uuid,
    pub model_id: Uuid,
    pub price: MoneyDto,
    pub expires_at: DateTime<Utc>,
    pub locked_at: DateTime<Utc>,
}

impl LockResponse {
    pub fn new(quote: &Quote, lock: LockedQuote) -> Self {
        Self {
            quote_id: quote.id,
            order_id: lock.order_id,
            variant_id: quote.variant_id,
            model_id: quote.model_id,
            price: (&quote.price).into(),
            expires_at: quote.expires_at,
            locked_at: lock.locked_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequoteRequest {
    /// The condition observed at inspection: one answer per question.
    #[schema(max_items = 50)]
    pub answers: Vec<AnswerDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnswerChangeDto {
    pub question_id: Uuid,
    /// Null when the question did not exist at quote time.
    pub quoted_option_id: Option<Uuid>,
    pub observed_option_id: Uuid,
    /// What this change alone does to the price, before adjustments and the floor.
    pub price_delta_minor: i64,
}

impl From<&AnswerChange> for AnswerChangeDto {
    fn from(change: &AnswerChange) -> Self {
        Self {
            question_id: change.question_id,
            quoted_option_id: change.quoted_option_id,
            observed_option_id: change.observed_option_id,
            price_delta_minor: change.price_delta_minor,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequoteResponse {
    pub quote_id: Uuid,
    pub original_price: MoneyDto,
    pub revised_price: MoneyDto,
    /// The breakdown of the revised price.
    pub breakdown: Vec<BreakdownLineDto>,
    pub changes: Vec<AnswerChangeDto>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScopeDto {
    Category,
    Brand,
}

impl From<AdjustmentScope> for ScopeDto {
    fn from(scope: AdjustmentScope) -> Self {
        match scope {
            AdjustmentScope::Category => Self::Category,
            AdjustmentScope::Brand => Self::Brand,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdjustmentRequest {
    /// Checked with the other fields: an unknown scope is one more violation.
    #[schema(schema_with = platform::schema::names::<AdjustmentScope>)]
    pub scope: String,
    /// A category (`phone`, `laptop`, `tablet`, `watch`) for scope `category`, a brand
    /// (`Apple`) for scope `brand`.
    #[schema(example = "phone", min_length = 1, max_length = 60, pattern = r"\S")]
    pub value: String,
    /// -1000 = -10 %, +500 = +5 %; not 0.
    #[schema(example = 500, minimum = -10000, maximum = 10000)]
    pub percent_basis_points: i32,
    pub starts_at: DateTime<Utc>,
    /// Exclusive; absent = open-ended.
    pub ends_at: Option<DateTime<Utc>>,
    #[schema(
        example = "Diwali bonus",
        min_length = 1,
        max_length = 120,
        pattern = r"\S"
    )]
    pub label: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdjustmentDto {
    pub id: Uuid,
    pub scope: ScopeDto,
    pub value: String,
    pub percent_basis_points: i32,
    pub label: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Whether it applies to quotes issued now.
    pub active: bool,
}

impl AdjustmentDto {
    pub fn new(adjustment: &Adjustment, now: DateTime<Utc>) -> Self {
        Self {
            id: adjustment.id,
            scope: adjustment.scope.into(),
            value: adjustment.value.clone(),
            percent_basis_points: adjustment.percent_basis_points,
            label: adjustment.label.clone(),
            starts_at: adjustment.starts_at,
            ends_at: adjustment.ends_at,
            created_at: adjustment.created_at,
            active: adjustment.is_active_at(now),
        }
    }
}
