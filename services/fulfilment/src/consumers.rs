//! What fulfilment hears: confirmed, cancelled and refused orders from `order.events`, and
//! partners' reports from `partner.events`. Each is applied in the consumer's transaction,
//! under the order's lease, in `aggregate_seq` order, once.
//!
//! A report from a partner that no longer holds the job, or one that no longer fits the
//! job (a duplicate, or the loser of a race with a cancellation), is acknowledged and
//! logged: retrying it could never succeed.

use async_trait::async_trait;
use chrono::NaiveDate;
use events::order::{OrderCancelled, OrderConfirmed, RevisedPriceRefused};
use events::partner::{
    HubDeliveryReported, InspectionReported, JobAccepted, JobDeclined, PickupReported,
    ReturnDeliveryReported,
};
use platform::consumer::{Handle, HandlerError, Handlers, IncomingEvent};
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::domain::{Job, JobKind, JobStatus, NewJob, Report, TradeIn};
use crate::store::{self, StoreError, today};

/// The consumer group (and `processed_events` namespace) of the fulfilment service.
pub const CONSUMER_GROUP: &str = "fulfilment";

pub fn handlers() -> Handlers {
    Handlers::new()
        .on::<OrderConfirmed, _>(OrderHandler)
        .on::<OrderCancelled, _>(OrderHandler)
        .on::<RevisedPriceRefused, _>(OrderHandler)
        .on::<JobAccepted, _>(PartnerHandler)
        .on::<JobDeclined, _>(PartnerHandler)
        .on::<PickupReported, _>(PartnerHandler)
        .on::<HubDeliveryReported, _>(PartnerHandler)
        .on::<InspectionReported, _>(PartnerHandler)
        .on::<ReturnDeliveryReported, _>(PartnerHandler)
}

pub struct OrderHandler;
pub struct PartnerHandler;

fn uuid(value: &str, what: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value)
        .map_err(|_| HandlerError::Permanent(format!("`{value}` is not a {what}")))
}

pub(crate) fn failure(error: StoreError) -> HandlerError {
    match error {
        StoreError::Concurrent(_) => HandlerError::Transient(error.to_string()),
        StoreError::Corrupt(_) => HandlerError::Permanent(error.to_string()),
        StoreError::Database(_) => HandlerError::Unavailable(error.to_string()),
    }
}

#[async_trait]
impl Handle<OrderConfirmed> for OrderHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: OrderConfirmed,
        _incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let order_id = uuid(&event.order_id, "order id")?;
        if store::trade_in(txn, order_id)
            .await
            .map_err(failure)?
            .is_some()
        {
            tracing::warn!(%order_id, "order confirmed twice; ignored");
            return Ok(());
        }
        let pickup = event
            .pickup
            .ok_or_else(|| HandlerError::Permanent("the pickup is missing".into()))?;
        let day = NaiveDate::parse_from_str(&pickup.slot_date, "%Y-%m-%d")
            .map_err(|_| HandlerError::Permanent("the slot date is not a date".into()))?;
        let quoted = event.quoted_price.unwrap_or_default();
        let trade_in = store::open_trade_in(
            txn,
            TradeIn {
                order_id,
                quote_id: uuid(&event.quote_id, "quote id")?,
                variant_id: uuid(&event.variant_id, "variant id")?,
                pincode: pickup.pincode.clone(),
                address: pickup.address.clone(),
                slot_date: pickup.slot_date.clone(),
                slot_window: pickup.slot_window.clone(),
                quoted_amount_minor: quoted.amount_minor,
                quoted_currency: quoted.currency,
            },
        )
        .await
        .map_err(failure)?;
        let job = NewJob {
            kind: JobKind::Pickup,
            day,
            pincode: &pickup.pincode,
            address: &pickup.address,
            slot_date: &pickup.slot_date,
            slot_window: &pickup.slot_window,
        };
        store::create_job(txn, &trade_in, job)
            .await
            .map_err(failure)?;
        Ok(())
    }
}

#[async_trait]
impl Handle<OrderCancelled> for OrderHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: OrderCancelled,
        _incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let order_id = uuid(&event.order_id, "order id")?;
        if store::trade_in(txn, order_id)
            .await
            .map_err(failure)?
            .is_none()
        {
            // Cancelled before it was confirmed: there is no job to cancel.
            return Ok(());
        }
        let reason = format!("order cancelled by {}", event.cancelled_by);
        for job in store::open_jobs_of(txn, order_id).await.map_err(failure)? {
            store::cancel(txn, job, &reason).await.map_err(failure)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Handle<RevisedPriceRefused> for OrderHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: RevisedPriceRefused,
        _incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let order_id = uuid(&event.order_id, "order id")?;
        let Some(trade_in) = store::trade_in(txn, order_id).await.map_err(failure)? else {
            return Err(HandlerError::Permanent(format!(
                "refused price for unknown order {order_id}"
            )));
        };
        let (address, pincode) = match &event.return_to {
            Some(to) if !to.address.is_empty() => (to.address.clone(), to.pincode.clone()),
            _ => (trade_in.address.clone(), trade_in.pincode.clone()),
        };
        let job = NewJob {
            kind: JobKind::Return,
            day: today(),
            pincode: &pincode,
            address: &address,
            slot_date: "",
            slot_window: "",
        };
        store::create_job(txn, &trade_in, job)
            .await
            .map_err(failure)?;
        Ok(())
    }
}

/// The job a partner report is about, if that partner still holds it.
async fn held_job(
    txn: &DatabaseTransaction,
    order_id: &str,
    job_id: &str,
    partner_id: &str,
    incoming: &IncomingEvent,
) -> Result<Option<Job>, HandlerError> {
    let job_id = uuid(job_id, "job id")?;
    let partner_id = uuid(partner_id, "partner id")?;
    let job = store::job(txn, job_id).await.map_err(failure)?;
    match job {
        Some(job) if job.order_id.to_string() == order_id && job.partner_id == Some(partner_id) => {
            Ok(Some(job))
        }
        _ => {
            tracing::warn!(%job_id, %partner_id, event = %incoming.envelope.event_type, "report from a partner not holding the job; ignored");
            Ok(None)
        }
    }
}

/// The status `report` moves `job` to, or `None` (logged) when it does not fit.
fn next(job: &Job, report: Report, incoming: &IncomingEvent) -> Option<(JobKind, JobStatus)> {
    let next = job.status.after(job.kind, report);
    if next.is_none() {
        tracing::warn!(job_id = %job.id, current = %job.status.as_str(), event = %incoming.envelope.event_type, "report does not fit the job's state; ignored");
    }
    next.map(|next| (job.kind, next))
}

#[async_trait]
impl Handle<JobAccepted> for PartnerHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobAccepted,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(job) = held_job(
            txn,
            &event.order_id,
            &event.job_id,
            &event.partner_id,
            incoming,
        )
        .await?
        else {
            return Ok(());
        };
        let Some((kind, status)) = next(&job, Report::Accept, incoming) else {
            return Ok(());
        };
        let job = store::progress(txn, job, status, None)
            .await
            .map_err(failure)?;
        if kind == JobKind::Pickup {
            let event = events::fulfilment::PickupScheduled {
                order_id: job.order_id.to_string(),
                job_id: job.id.to_string(),
                partner_id: event.partner_id,
                slot_date: job.slot_date.clone(),
                slot_window: job.slot_window.clone(),
            };
            store::emit(txn, job.order_id, &event)
                .await
                .map_err(failure)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Handle<JobDeclined> for PartnerHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobDeclined,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(job) = held_job(
            txn,
            &event.order_id,
            &event.job_id,
            &event.partner_id,
            incoming,
        )
        .await?
        else {
            return Ok(());
        };
        if job.status != JobStatus::Offered {
            tracing::warn!(job_id = %job.id, current = %job.status.as_str(), "decline of a job not on offer; ignored");
            return Ok(());
        }
        let reason = format!("declined: {}", event.reason);
        store::reassign(txn, job, &reason).await.map_err(failure)?;
        Ok(())
    }
}

#[async_trait]
impl Handle<PickupReported> for PartnerHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: PickupReported,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(job) = held_job(
            txn,
            &event.order_id,
            &event.job_id,
            &event.partner_id,
            incoming,
        )
        .await?
        else {
            return Ok(());
        };
        let Some((kind, status)) = next(&job, Report::PickUp, incoming) else {
            return Ok(());
        };
        let job = store::progress(txn, job, status, None)
            .await
            .map_err(failure)?;
        if kind == JobKind::Pickup {
            let event = events::fulfilment::DevicePickedUp {
                order_id: job.order_id.to_string(),
                job_id: job.id.to_string(),
                partner_id: event.partner_id,
            };
            store::emit(txn, job.order_id, &event)
                .await
                .map_err(failure)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Handle<HubDeliveryReported> for PartnerHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: HubDeliveryReported,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(job) = held_job(
            txn,
            &event.order_id,
            &event.job_id,
            &event.partner_id,
            incoming,
        )
        .await?
        else {
            return Ok(());
        };
        let Some((JobKind::Pickup, status)) = next(&job, Report::Deliver, incoming) else {
            return Ok(());
        };
        let job = store::progress(txn, job, status, Some("delivered to the hub".into()))
            .await
            .map_err(failure)?;
        let trade_in = store::trade_in(txn, job.order_id)
            .await
            .map_err(failure)?
            .ok_or_else(|| HandlerError::Permanent("job without a trade-in".into()))?;
        let inspection = NewJob {
            kind: JobKind::Inspection,
            day: today(),
            pincode: &trade_in.pincode,
            address: &trade_in.address,
            slot_date: "",
            slot_window: "",
        };
        store::create_job(txn, &trade_in, inspection)
            .await
            .map_err(failure)?;
        Ok(())
    }
}

#[async_trait]
impl Handle<InspectionReported> for PartnerHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: InspectionReported,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(job) = held_job(
            txn,
            &event.order_id,
            &event.job_id,
            &event.partner_id,
            incoming,
        )
        .await?
        else {
            return Ok(());
        };
        if next(&job, Report::Inspect, incoming).is_none() {
            return Ok(());
        }
        let answers: Vec<serde_json::Value> = event
            .answers
            .iter()
            .map(|answer| {
                serde_json::json!({"question_id": answer.question_id, "option_id": answer.option_id})
            })
            .collect();
        store::inspection_reported(txn, job, serde_json::Value::Array(answers), event.notes)
            .await
            .map_err(failure)?;
        Ok(())
    }
}

#[async_trait]
impl Handle<ReturnDeliveryReported> for PartnerHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: ReturnDeliveryReported,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let Some(job) = held_job(
            txn,
            &event.order_id,
            &event.job_id,
            &event.partner_id,
            incoming,
        )
        .await?
        else {
            return Ok(());
        };
        let Some((JobKind::Return, status)) = next(&job, Report::Deliver, incoming) else {
            return Ok(());
        };
        let job = store::progress(txn, job, status, Some("back with the shopper".into()))
            .await
            .map_err(failure)?;
        let event = events::fulfilment::ReturnCompleted {
            order_id: job.order_id.to_string(),
            job_id: job.id.to_string(),
        };
        store::emit(txn, job.order_id, &event)
            .await
            .map_err(failure)?;
        Ok(())
    }
}
