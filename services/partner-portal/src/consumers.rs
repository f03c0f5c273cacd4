//! The partners' job read model, built from `fulfilment.events` in the consumer's
//! transaction (once, in order, under the order's lease). Every change a partner cares about
//! also queues its webhook deliveries in that transaction.

use async_trait::async_trait;
use events::fulfilment::{
    JobCancelled, JobCreated, JobStatusChanged, JobUnassigned, PartnerAssigned,
};
use platform::consumer::{Handle, HandlerError, Handlers, IncomingEvent};
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::domain::{FulfilmentChange, JobKind, JobStatus, NewJob, PortalJob, Source};
use crate::store::{self, StoreError};

/// The consumer group (and `processed_events` namespace) of the portal.
pub const CONSUMER_GROUP: &str = "partner-portal";

pub fn handlers() -> Handlers {
    Handlers::new()
        .on::<JobCreated, _>(JobHandler)
        .on::<PartnerAssigned, _>(JobHandler)
        .on::<JobUnassigned, _>(JobHandler)
        .on::<JobStatusChanged, _>(JobHandler)
        .on::<JobCancelled, _>(JobHandler)
}

/// Keeps the job read model: every fulfilment event the portal reads.
pub struct JobHandler;

fn uuid(value: &str, what: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value)
        .map_err(|_| HandlerError::Permanent(format!("`{value}` is not a {what}")))
}

fn failure(error: StoreError) -> HandlerError {
    match error {
        StoreError::Concurrent(_) => HandlerError::Transient(error.to_string()),
        StoreError::Database(_) => HandlerError::Unavailable(error.to_string()),
        // No event creates users or reports for a partner: handlers' writes never fail so.
        // A row that cannot be read back will not read better on a retry.
        StoreError::EmailTaken
        | StoreError::NotHeld(_)
        | StoreError::Illegal { .. }
        | StoreError::Corrupt(..) => HandlerError::Permanent(error.to_string()),
    }
}

async fn known_job(
    txn: &DatabaseTransaction,
    job_id: &str,
    incoming: &IncomingEvent,
) -> Result<Option<PortalJob>, HandlerError> {
    let id = uuid(job_id, "job id")?;
    let job = store::job(txn, id).await.map_err(failure)?;
    if job.is_none() {
        tracing::warn!(job_id = %id, event = %incoming.envelope.event_type, "event about a job never created; ignored");
    }
    Ok(job)
}

/// Applies one of fulfilment's changes to the job through the precedence rule
/// ([`PortalJob::after_fulfilment`]), records it in the history and queues the webhook
/// deliveries it causes, all in the consumer's transaction.
async fn apply(
    txn: &DatabaseTransaction,
    job_id: &str,
    incoming: &IncomingEvent,
    change: FulfilmentChange,
    note: Option<String>,
) -> Result<(), HandlerError> {
    let Some(job) = known_job(txn, job_id, incoming).await? else {
        return Ok(());
    };
    let Some((next, notices)) = job.after_fulfilment(change) else {
        tracing::debug!(job_id = %job.id, ?change, "fulfilment's change is behind the portal's row; kept");
        return Ok(());
    };
    let job = store::save_job(txn, next, Source::Fulfilment, note)
        .await
        .map_err(failure)?;
    for notice in notices {
        store::enqueue(txn, notice.partner(), notice.event(), &job)
            .await
            .map_err(failure)?;
    }
    Ok(())
}

#[async_trait]
impl Handle<JobCreated> for JobHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobCreated,
        _incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let id = uuid(&event.job_id, "job id")?;
        if store::job(txn, id).await.map_err(failure)?.is_some() {
            return Ok(());
        }
        let job = NewJob {
            id,
            order_id: uuid(&event.order_id, "order id")?,
            kind: JobKind::parse(&event.kind)
                .ok_or_else(|| HandlerError::Permanent(format!("unknown kind {}", event.kind)))?,
            pincode: event.pincode,
            address: event.address,
            slot_date: event.slot_date,
            slot_window: event.slot_window,
            variant_id: event.variant_id,
        };
        store::insert_job(txn, job).await.map(drop).map_err(failure)
    }
}

#[async_trait]
impl Handle<PartnerAssigned> for JobHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: PartnerAssigned,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let partner_id = uuid(&event.partner_id, "partner id")?;
        let change = FulfilmentChange::Assigned(partner_id);
        apply(txn, &event.job_id, incoming, change, Some("offered".into())).await
    }
}

#[async_trait]
impl Handle<JobUnassigned> for JobHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobUnassigned,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let note = Some(event.reason).filter(|reason| !reason.is_empty());
        apply(
            txn,
            &event.job_id,
            incoming,
            FulfilmentChange::Unassigned,
            note,
        )
        .await
    }
}

#[async_trait]
impl Handle<JobStatusChanged> for JobHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobStatusChanged,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let reported = JobStatus::parse(&event.status)
            .ok_or_else(|| HandlerError::Permanent(format!("unknown status {}", event.status)))?;
        let change = FulfilmentChange::Status(reported);
        apply(txn, &event.job_id, incoming, change, None).await
    }
}

#[async_trait]
impl Handle<JobCancelled> for JobHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobCancelled,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let note = Some(event.reason).filter(|reason| !reason.is_empty());
        apply(
            txn,
            &event.job_id,
            incoming,
            FulfilmentChange::Cancelled,
            note,
        )
        .await
    }
}
