//! The portal API's JSON shapes and query parameters, and how records become views.
//! Requests refuse unknown fields, so a typo is an error rather than a silently ignored
//! instruction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{
    Attempt, Delivery, DeliveryStatus, HistoryEntry, JobKind, JobStatus, PortalJob, PortalUser,
    Source, Webhook, WebhookEvent,
};

/// The longest reason a partner may give for declining, in characters.
pub const MAX_DECLINE_REASON_CHARS: usize = 500;
/// The most answers an inspection report may hold (one per question).
pub const MAX_INSPECTION_ANSWERS: usize = 100;
/// The longest notes of an inspection report, in characters.
pub const MAX_INSPECTION_NOTES_CHARS: usize = 2000;

// Limits in `#[schema]`/`#[param]` are literals (the derive takes no constants); the
// OpenAPI tests hold them to the constants above and to the domain's and the platform's.

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    #[schema(schema_with = platform::schema::names::<JobStatus>)]
    pub status: String,
    /// Who moved the job.
    #[schema(schema_with = platform::schema::names::<Source>)]
    pub source: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<&HistoryEntry> for HistoryItem {
    fn from(entry: &HistoryEntry) -> Self {
        Self {
            status: entry.status.as_str().to_owned(),
            source: entry.source.as_str().to_owned(),
            note: entry.note.clone(),
            at: entry.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    pub order_id: Uuid,
    #[schema(schema_with = platform::schema::names::<JobKind>)]
    pub kind: String,
    #[schema(schema_with = platform::schema::names::<JobStatus>)]
    pub status: String,
    /// The partner holding the job (the caller itself, for partners).
    pub partner_id: Option<Uuid>,
    pub pincode: String,
    pub address: String,
    pub slot_date: String,
    pub slot_window: String,
    pub variant_id: String,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryItem>>,
}

impl From<&PortalJob> for JobView {
    fn from(job: &PortalJob) -> Self {
        Self {
            id: job.id,
            order_id: job.order_id,
            kind: job.kind.as_str().to_owned(),
            status: job.status.as_str().to_owned(),
            partner_id: job.partner_id,
            pincode: job.pincode.clone(),
            address: job.address.clone(),
            slot_date: job.slot_date.clone(),
            slot_window: job.slot_window.clone(),
            variant_id: job.variant_id.clone(),
            updated_at: job.updated_at,
            history: None,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// One partner's jobs.
    pub partner_id: Option<Uuid>,
    /// An unknown status is a 400 `invalid_query_parameter`.
    #[param(schema_with = platform::schema::names::<JobStatus>)]
    pub status: Option<String>,
    /// An unknown kind is a 400 `invalid_query_parameter`.
    #[param(schema_with = platform::schema::names::<JobKind>)]
    pub kind: Option<String>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 10000, default = 1)]
    pub page: Option<u64>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

/// A partner's filter of its own jobs: [`JobQuery`] without `partner_id`, so a partner
/// naming one is refused like any parameter the route does not take.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PartnerJobQuery {
    /// An unknown status is a 400 `invalid_query_parameter`.
    #[param(schema_with = platform::schema::names::<JobStatus>)]
    pub status: Option<String>,
    /// An unknown kind is a 400 `invalid_query_parameter`.
    #[param(schema_with = platform::schema::names::<JobKind>)]
    pub kind: Option<String>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 10000, default = 1)]
    pub page: Option<u64>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

impl PartnerJobQuery {
    /// The query as an admin would ask it for `partner_id`'s jobs.
    pub fn of(self, partner_id: Uuid) -> JobQuery {
        JobQuery {
            partner_id: Some(partner_id),
            status: self.status,
            kind: self.kind,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    /// Why the partner declines, for fulfilment's log.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDto {
    pub question_id: Uuid,
    pub option_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionReportRequest {
    /// The condition observed: one answer per question of the device's questionnaire, no
    /// question answered twice.
    #[schema(min_items = 1, max_items = 100)]
    pub answers: Vec<AnswerDto>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub notes: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    /// Only in the answer to registration and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl WebhookView {
    /// `with_secret` only in the answers to registration and rotation.
    pub fn of(hook: &Webhook, with_secret: bool) -> Self {
        Self {
            id: hook.id,
            url: hook.url.clone(),
            secret: with_secret.then(|| hook.secret.clone()),
            created_at: hook.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookRequest {
    /// An absolute `https` URL on the public internet (deployments for development may
    /// allow `http` and private addresses), without credentials. A refused URL is a 422
    /// `webhook_url_refused` with its `reason`.
    #[schema(
        min_length = 1,
        max_length = 2048,
        example = "https://hooks.partner.example/recommerce"
    )]
    pub url: String,
}

/// Paging of a partner's webhooks: all of them on one page unless asked otherwise.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookPageQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 10000, default = 1)]
    pub page: Option<u64>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 100)]
    pub per_page: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<&Attempt> for AttemptView {
    fn from(attempt: &Attempt) -> Self {
        Self {
            attempt: attempt.attempt,
            at: attempt.at,
            status_code: attempt.status_code,
            error: attempt.error.clone(),
            duration_ms: attempt.duration_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub partner_id: Uuid,
    /// What the delivery tells the partner (the payload's `type`).
    #[serde(rename = "type")]
    #[schema(schema_with = platform::schema::names::<WebhookEvent>)]
    pub event_type: String,
    /// `pending`: attempts owed; `delivered` or `failed`: settled until a redelivery.
    #[schema(schema_with = platform::schema::names::<DeliveryStatus>)]
    pub status: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<AttemptView>>,
}

impl From<&Delivery> for DeliveryView {
    fn from(delivery: &Delivery) -> Self {
        Self {
            id: delivery.id,
            webhook_id: delivery.webhook_id,
            partner_id: delivery.partner_id,
            event_type: delivery.event.as_str().to_owned(),
            status: delivery.status.as_str().to_owned(),
            next_attempt_at: delivery.next_attempt_at,
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error.clone(),
            created_at: delivery.created_at,
            delivered_at: delivery.delivered_at,
            payload: serde_json::from_str(&delivery.payload).unwrap_or(serde_json::Value::Null),
            attempts: None,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// An unknown status is a 400 `invalid_query_parameter`.
    #[param(schema_with = platform::schema::names::<DeliveryStatus>)]
    pub status: Option<String>,
    /// One partner's deliveries.
    pub partner_id: Option<Uuid>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 10000, default = 1)]
    pub page: Option<u64>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

/// A partner's filter of its own deliveries: [`DeliveryQuery`] without `partner_id`, so a
/// partner naming one is refused like any parameter the route does not take.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PartnerDeliveryQuery {
    /// An unknown status is a 400 `invalid_query_parameter`.
    #[param(schema_with = platform::schema::names::<DeliveryStatus>)]
    pub status: Option<String>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 10000, default = 1)]
    pub page: Option<u64>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

impl PartnerDeliveryQuery {
    /// The query as an admin would ask it for `partner_id`'s deliveries.
    pub fn of(self, partner_id: Uuid) -> DeliveryQuery {
        DeliveryQuery {
            status: self.status,
            partner_id: Some(partner_id),
            page: self.page,
            per_page: self.per_page,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub email: String,
    pub name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&PortalUser> for UserView {
    fn from(user: &PortalUser) -> Self {
        Self {
            id: user.id,
            partner_id: user.partner_id,
            email: user.email.clone(),
            name: user.name.clone(),
            active: user.active,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// The partner as fulfilment knows it.
    pub partner_id: Uuid,
    /// Trimmed and lower-cased; unique among users (else 409 `email_taken`).
    #[schema(
        max_length = 320,
        pattern = r"^[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^@\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+@[^.\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*\.[^\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
        example = "dispatch@partner.example"
    )]
    pub email: String,
    /// Trimmed; at most 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// One partner's users.
    pub partner_id: Option<Uuid>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 10000, default = 1)]
    pub page: Option<u64>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeRequest {
    /// Trimmed; at most 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// `false` disables the user: its tokens stop working at once.
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}
