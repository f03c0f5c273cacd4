//! Fulfilment's JSON shapes: what admins send, and the views of partners and jobs built from
//! the store's records. Requests refuse unknown fields, so a typo is an error rather than a
//! silently ignored instruction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Job, JobHistoryEntry, Partner, PartnerKind};

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub id: Uuid,
    pub name: String,
    /// logistics | repair
    pub kind: String,
    pub pincodes: Vec<String>,
    pub daily_capacity: i64,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Partner> for PartnerView {
    fn from(partner: &Partner) -> Self {
        Self {
            id: partner.id,
            name: partner.name.clone(),
            kind: partner.kind.as_str().to_owned(),
            pincodes: partner.pincodes.clone(),
            daily_capacity: partner.daily_capacity,
            active: partner.active,
            created_at: partner.created_at,
            updated_at: partner.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartnerRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Checked with the other fields: an unknown kind is one more violation.
    #[schema(schema_with = platform::schema::names::<PartnerKind>)]
    pub kind: String,
    /// Six digits, not starting with 0.
    #[schema(min_items = 1, max_items = 500, value_type = Vec<platform::schema::Pincode>)]
    pub pincodes: Vec<String>,
    #[schema(minimum = 1, maximum = 1000)]
    pub daily_capacity: i64,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerChangeRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub name: Option<String>,
    #[schema(min_items = 1, max_items = 500, value_type = Vec<platform::schema::Pincode>, nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub pincodes: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 1000, nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub daily_capacity: Option<i64>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "platform::validation::not_null")]
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequoteView {
    /// True when quote refused the re-pricing request itself (say, answers that fit no
    /// questionnaire): no more automatic attempts; `last_error` says why.
    pub failed: bool,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    pub status: String,
    pub partner_id: Option<Uuid>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<&JobHistoryEntry> for HistoryItem {
    fn from(entry: &JobHistoryEntry) -> Self {
        Self {
            status: entry.status.as_str().to_owned(),
            partner_id: entry.partner_id,
            reason: entry.reason.clone(),
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
    pub partner_id: Option<Uuid>,
    /// The day the job counts against its partner's capacity.
    pub day: String,
    pub pincode: String,
    pub address: String,
    pub slot_date: String,
    pub slot_window: String,
    pub offered_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub requote: RequoteView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryItem>>,
}

impl From<&Job> for JobView {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id,
            order_id: job.order_id,
            kind: job.kind.as_str().to_owned(),
            status: job.status.as_str().to_owned(),
            partner_id: job.partner_id,
            day: job.day.to_string(),
            pincode: job.pincode.clone(),
            address: job.address.clone(),
            slot_date: job.slot_date.clone(),
            slot_window: job.slot_window.clone(),
            offered_at: job.offered_at,
            notes: job.notes.clone(),
            requote: RequoteView {
                failed: job.requote.failed,
                attempts: job.requote.attempts,
                next_attempt_at: job.requote.due_at,
                last_error: job.requote.last_error.clone(),
            },
            created_at: job.created_at,
            updated_at: job.updated_at,
            history: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub job_id: Uuid,
    pub items: Vec<HistoryItem>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub partner_id: Uuid,
}
