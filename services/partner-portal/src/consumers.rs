//! The partners' job read model, built from `fulfilment.events` in the consumer's
//! transaction (once, in order, under the order's lease). Every change a partner cares about
//! also queues its webhook deliveries in that transaction.

use async_trait::async_trait;
use chrono::Utc;
use events::fulfilment::{
    JobCancelled, JobCreated, JobStatusChanged, JobUnassigned, PartnerAssigned,
};
use platform::consumer::{Handle, HandlerError, Handlers, IncomingEvent};
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::domain::JobStatus;
use crate::store::{self, StoreError, portal_jobs};

/// The consumer group (and `processed_events` namespace) of the portal.
pub const CONSUMER_GROUP: &str = "partner-portal";
const FROM_FULFILMENT: &str = "fulfilment";

pub fn handlers() -> Handlers {
    Handlers::new()
        .on::<JobCreated, _>(ReadModel)
        .on::<PartnerAssigned, _>(ReadModel)
        .on::<JobUnassigned, _>(ReadModel)
        .on::<JobStatusChanged, _>(ReadModel)
        .on::<JobCancelled, _>(ReadModel)
}

pub struct ReadModel;

fn uuid(value: &str, what: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value)
        .map_err(|_| HandlerError::Permanent(format!("`{value}` is not a {what}")))
}

fn failure(error: StoreError) -> HandlerError {
    match error {
        StoreError::Concurrent(_) => HandlerError::Transient(error.to_string()),
        StoreError::Database(_) => HandlerError::Unavailable(error.to_string()),
    }
}

async fn known_job(
    txn: &DatabaseTransaction,
    job_id: &str,
    incoming: &IncomingEvent,
) -> Result<Option<portal_jobs::Model>, HandlerError> {
    let id = uuid(job_id, "job id")?;
    let job = store::job(txn, id).await.map_err(failure)?;
    if job.is_none() {
        tracing::warn!(job_id = %id, event = %incoming.envelope.event_type, "event about a job never created; ignored");
    }
    Ok(job)
}

/// Tells the partner losing `job` that it is no longer theirs.
async fn withdraw(
    txn: &DatabaseTransaction,
    previous: Option<Uuid>,
    now_held_by: Option<Uuid>,
    job: &portal_jobs::Model,
) -> Result<(), HandlerError> {
    if let Some(previous) = previous.filter(|previous| Some(*previous) != now_held_by) {
        store::enqueue(txn, previous, "job.withdrawn", job)
            .await
            .map_err(failure)?;
    }
    Ok(())
}

#[async_trait]
impl Handle<JobCreated> for ReadModel {
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
        let now = Utc::now();
        let job = portal_jobs::Model {
            id,
            order_id: uuid(&event.order_id, "order id")?,
            kind: event.kind,
            status: JobStatus::Unassigned.as_str().to_owned(),
            partner_id: None,
            pincode: event.pincode,
            address: event.address,
            slot_date: event.slot_date,
            slot_window: event.slot_window,
            variant_id: event.variant_id,
            created_at: now,
            updated_at: now,
        };
        store::insert_job(txn, job).await.map_err(failure)
    }
}

#[async_trait]
impl Handle<PartnerAssigned> for ReadModel {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: PartnerAssigned,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(mut job) = known_job(txn, &event.job_id, incoming).await? else {
            return Ok(());
        };
        let partner_id = uuid(&event.partner_id, "partner id")?;
        let previous = job.partner_id;
        job.partner_id = Some(partner_id);
        job.status = JobStatus::Offered.as_str().to_owned();
        let job = store::save_job(txn, job, FROM_FULFILMENT, Some("offered".into()))
            .await
            .map_err(failure)?;
        withdraw(txn, previous, Some(partner_id), &job).await?;
        store::enqueue(txn, partner_id, "job.assigned", &job)
            .await
            .map_err(failure)?;
        Ok(())
    }
}

#[async_trait]
impl Handle<JobUnassigned> for ReadModel {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobUnassigned,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(mut job) = known_job(txn, &event.job_id, incoming).await? else {
            return Ok(());
        };
        let previous = job.partner_id.take();
        job.status = JobStatus::Unassigned.as_str().to_owned();
        let job = store::save_job(txn, job, FROM_FULFILMENT, Some(event.reason))
            .await
            .map_err(failure)?;
        withdraw(txn, previous, None, &job).await
    }
}

#[async_trait]
impl Handle<JobStatusChanged> for ReadModel {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobStatusChanged,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(mut job) = known_job(txn, &event.job_id, incoming).await? else {
            return Ok(());
        };
        let reported = JobStatus::parse(&event.status)
            .ok_or_else(|| HandlerError::Permanent(format!("unknown status {}", event.status)))?;
        let current = JobStatus::parse(&job.status).unwrap_or(JobStatus::Unassigned);
        if !current.takes_progress(reported) {
            return Ok(());
        }
        let changed = current != reported;
        job.status = reported.as_str().to_owned();
        let job = store::save_job(txn, job, FROM_FULFILMENT, None)
            .await
            .map_err(failure)?;
        if let Some(partner_id) = job.partner_id.filter(|_| changed) {
            store::enqueue(txn, partner_id, "job.updated", &job)
                .await
                .map_err(failure)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Handle<JobCancelled> for ReadModel {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobCancelled,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(mut job) = known_job(txn, &event.job_id, incoming).await? else {
            return Ok(());
        };
        job.status = JobStatus::Cancelled.as_str().to_owned();
        let job = store::save_job(txn, job, FROM_FULFILMENT, Some(event.reason))
            .await
            .map_err(failure)?;
        if let Some(partner_id) = job.partner_id {
            store::enqueue(txn, partner_id, "job.cancelled", &job)
                .await
                .map_err(failure)?;
        }
        Ok(())
    }
}
