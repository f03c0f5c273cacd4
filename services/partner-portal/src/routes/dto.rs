//! The portal API's JSON shapes and query parameters, and how records become views.
//! Requests refuse unknown fields, so a typo is an error rather than a silently ignored
//! instruction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{Attempt, Delivery, HistoryEntry, PortalJob, PortalUser, Webhook};

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    pub status: String,
    /// fulfilment | partner
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
    /// pickup | inspection | return
    pub kind: String,
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
    /// Admins only: one partner's jobs.
    pub partner_id: Option<Uuid>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    #[serde(default)]
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
    /// The condition observed: one answer per question of the device's questionnaire.
    pub answers: Vec<AnswerDto>,
    #[serde(default)]
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
    pub url: String,
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
    /// job.assigned | job.updated | job.cancelled | job.withdrawn
    #[serde(rename = "type")]
    pub event_type: String,
    /// pending | delivered | failed
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
    /// pending | delivered | failed
    pub status: Option<String>,
    /// Admins only: one partner's deliveries.
    pub partner_id: Option<Uuid>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
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
    pub email: String,
    pub name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    pub partner_id: Option<Uuid>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeRequest {
    pub name: Option<String>,
    /// `false` disables the user: its tokens stop working at once.
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}
