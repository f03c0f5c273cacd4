//! Rows ↔ records: the one place that knows how a record is stored. A row that cannot be
//! read back as its record (an unknown status, kind, source or event type) is
//! [`StoreError::Corrupt`].

use sea_orm::ActiveValue::Set;
use uuid::Uuid;

use super::StoreError;
use super::entities::{
    portal_job_history, portal_jobs, portal_users, webhook_attempts, webhook_deliveries, webhooks,
};
use crate::domain::{
    Attempt, Delivery, DeliveryStatus, HistoryEntry, JobKind, JobStatus, PortalJob, PortalUser,
    Source, Webhook, WebhookEvent,
};

fn unknown(id: Uuid, what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(id, format!("unknown {what} `{value}`"))
}

impl TryFrom<portal_jobs::Model> for PortalJob {
    type Error = StoreError;

    fn try_from(row: portal_jobs::Model) -> Result<Self, StoreError> {
        let kind = JobKind::parse(&row.kind).ok_or_else(|| unknown(row.id, "kind", &row.kind))?;
        let status =
            JobStatus::parse(&row.status).ok_or_else(|| unknown(row.id, "status", &row.status))?;
        Ok(Self {
            id: row.id,
            order_id: row.order_id,
            kind,
            status,
            partner_id: row.partner_id,
            pincode: row.pincode,
            address: row.address,
            slot_date: row.slot_date,
            slot_window: row.slot_window,
            variant_id: row.variant_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// The row that stores `job`, every column set.
pub(super) fn job_row(job: &PortalJob) -> portal_jobs::ActiveModel {
    portal_jobs::ActiveModel {
        id: Set(job.id),
        order_id: Set(job.order_id),
        kind: Set(job.kind.as_str().to_owned()),
        status: Set(job.status.as_str().to_owned()),
        partner_id: Set(job.partner_id),
        pincode: Set(job.pincode.clone()),
        address: Set(job.address.clone()),
        slot_date: Set(job.slot_date.clone()),
        slot_window: Set(job.slot_window.clone()),
        variant_id: Set(job.variant_id.clone()),
        created_at: Set(job.created_at),
        updated_at: Set(job.updated_at),
        version: Set(job.version),
    }
}

impl TryFrom<portal_job_history::Model> for HistoryEntry {
    type Error = StoreError;

    fn try_from(row: portal_job_history::Model) -> Result<Self, StoreError> {
        let status =
            JobStatus::parse(&row.status).ok_or_else(|| unknown(row.id, "status", &row.status))?;
        let source =
            Source::parse(&row.source).ok_or_else(|| unknown(row.id, "source", &row.source))?;
        Ok(Self {
            id: row.id,
            job_id: row.job_id,
            status,
            partner_id: row.partner_id,
            source,
            note: row.note,
            at: row.at,
        })
    }
}

impl TryFrom<portal_users::Model> for PortalUser {
    type Error = StoreError;

    fn try_from(row: portal_users::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            partner_id: row.partner_id,
            email: row.email,
            name: row.name,
            active: row.active,
            tokens_valid_from: row.tokens_valid_from,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl TryFrom<webhooks::Model> for Webhook {
    type Error = StoreError;

    fn try_from(row: webhooks::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            partner_id: row.partner_id,
            url: row.url,
            secret: row.secret,
            active: row.active,
            created_at: row.created_at,
        })
    }
}

impl TryFrom<webhook_deliveries::Model> for Delivery {
    type Error = StoreError;

    fn try_from(row: webhook_deliveries::Model) -> Result<Self, StoreError> {
        let event = WebhookEvent::parse(&row.event_type)
            .ok_or_else(|| unknown(row.id, "event type", &row.event_type))?;
        let status = DeliveryStatus::parse(&row.status)
            .ok_or_else(|| unknown(row.id, "status", &row.status))?;
        let tries = u32::try_from(row.tries)
            .map_err(|_| StoreError::Corrupt(row.id, format!("{} tries", row.tries)))?;
        Ok(Self {
            id: row.id,
            webhook_id: row.webhook_id,
            partner_id: row.partner_id,
            event,
            payload: row.payload,
            status,
            tries,
            next_attempt_at: row.next_attempt_at,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        })
    }
}

/// How `tries` is stored (a count that outgrew the column stays at its largest value).
pub(super) fn tries_column(tries: u32) -> i32 {
    i32::try_from(tries).unwrap_or(i32::MAX)
}

/// The row that stores `delivery`, every column set.
pub(super) fn delivery_row(delivery: &Delivery) -> webhook_deliveries::ActiveModel {
    webhook_deliveries::ActiveModel {
        id: Set(delivery.id),
        webhook_id: Set(delivery.webhook_id),
        partner_id: Set(delivery.partner_id),
        event_type: Set(delivery.event.as_str().to_owned()),
        payload: Set(delivery.payload.clone()),
        status: Set(delivery.status.as_str().to_owned()),
        tries: Set(tries_column(delivery.tries)),
        next_attempt_at: Set(delivery.next_attempt_at),
        last_status_code: Set(delivery.last_status_code),
        last_error: Set(delivery.last_error.clone()),
        created_at: Set(delivery.created_at),
        delivered_at: Set(delivery.delivered_at),
    }
}

impl TryFrom<webhook_attempts::Model> for Attempt {
    type Error = StoreError;

    fn try_from(row: webhook_attempts::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            delivery_id: row.delivery_id,
            attempt: row.attempt,
            at: row.at,
            status_code: row.status_code,
            error: row.error,
            duration_ms: row.duration_ms,
        })
    }
}
