//! The projection, fed by four topics. Each event is applied once (the consumer runtime
//! records its id in the same transaction) and in order per producer and key; events of
//! one order from different producers (fulfilment's offer, the partner's answer) may come
//! in either order, so what they write merges rather than overwrites.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use events::Event;
use events::fulfilment::{DevicePickedUp, JobCreated, PartnerAssigned};
use events::order::{
    OrderCancelled, OrderCompleted, OrderConfirmed, OrderInspected, OrderPickedUp,
    OrderPickupScheduled, OrderPlaced, OrderPriceRevised, OrderRejected, OrderReturned,
    RevisedPriceAccepted, RevisedPriceRefused,
};
use events::partner::{JobAccepted, JobDeclined, PickupReported};
use events::quote::QuoteIssued;
use platform::consumer::{Handle, HandlerError, Handlers, IncomingEvent};
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::domain::{Money, OfferAnswer, OrderFact, ReportOrder, pickup_due_by};
use crate::store::{self, JobChange, StoreError};

pub fn handlers() -> Handlers {
    Handlers::new()
        .on::<QuoteIssued, _>(Projection)
        .on::<OrderPlaced, _>(Projection)
        .on::<OrderConfirmed, _>(Projection)
        .on::<OrderRejected, _>(Projection)
        .on::<OrderCancelled, _>(Projection)
        .on::<OrderPickupScheduled, _>(Projection)
        .on::<OrderPickedUp, _>(Projection)
        .on::<OrderInspected, _>(Projection)
        .on::<OrderPriceRevised, _>(Projection)
        .on::<RevisedPriceAccepted, _>(Projection)
        .on::<RevisedPriceRefused, _>(Projection)
        .on::<OrderCompleted, _>(Projection)
        .on::<OrderReturned, _>(Projection)
        .on::<JobCreated, _>(Projection)
        .on::<PartnerAssigned, _>(Projection)
        .on::<DevicePickedUp, _>(Projection)
        .on::<JobAccepted, _>(Projection)
        .on::<JobDeclined, _>(Projection)
        .on::<PickupReported, _>(Projection)
}

/// Applies every event the reports read.
pub struct Projection;

fn uuid(value: &str, what: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value)
        .map_err(|_| HandlerError::Permanent(format!("`{value}` is not a {what}")))
}

fn failure(error: StoreError) -> HandlerError {
    match error {
        StoreError::Database(_) => HandlerError::Unavailable(error.to_string()),
        StoreError::Corrupt(_) => HandlerError::Permanent(error.to_string()),
    }
}

/// When the event happened, as its producer says (the time of its commit).
fn when(incoming: &IncomingEvent) -> DateTime<Utc> {
    incoming.envelope.occurred_at().unwrap_or_else(Utc::now)
}

fn order_money(money: Option<events::order::Money>) -> Option<Money> {
    money.map(|money| Money {
        amount_minor: money.amount_minor,
        currency: money.currency,
    })
}

/// An `order.events` event: which order, and what it says.
trait OrderEvent: Event {
    fn order_id(&self) -> &str;
    fn fact(self) -> Result<OrderFact, HandlerError>;
}

macro_rules! order_facts {
    ($($event:ident => |$e:ident| $fact:expr;)+) => {
        $(impl OrderEvent for $event {
            fn order_id(&self) -> &str {
                &self.order_id
            }

            fn fact(self) -> Result<OrderFact, HandlerError> {
                let $e = self;
                Ok($fact)
            }
        })+
    };
}

order_facts! {
    OrderPlaced => |e| OrderFact::Placed {
        quote_id: if e.quote_id.is_empty() { None } else { Some(uuid(&e.quote_id, "quote id")?) },
    };
    OrderConfirmed => |e| OrderFact::Confirmed { quoted: order_money(e.quoted_price) };
    OrderRejected => |_e| OrderFact::Rejected;
    OrderCancelled => |_e| OrderFact::Cancelled;
    OrderPickupScheduled => |_e| OrderFact::PickupScheduled;
    OrderPickedUp => |_e| OrderFact::PickedUp;
    OrderInspected => |e| OrderFact::Inspected { final_price: order_money(e.final_price) };
    OrderPriceRevised => |e| OrderFact::PriceRevised {
        quoted: order_money(e.quoted_price),
        revised: order_money(e.revised_price),
    };
    RevisedPriceAccepted => |_e| OrderFact::RevisedPriceAccepted;
    RevisedPriceRefused => |_e| OrderFact::RevisedPriceRefused;
    OrderCompleted => |e| OrderFact::Completed { paid: order_money(e.paid) };
    OrderReturned => |_e| OrderFact::Returned;
}

#[async_trait]
impl<E: OrderEvent + Send + 'static> Handle<E> for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: E,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let id = uuid(event.order_id(), "order id")?;
        let fact = event.fact()?;
        let current = store::order(txn, id).await.map_err(failure)?;
        let (next, left) = ReportOrder::after(current.as_ref(), id, &fact, when(incoming));
        store::save_order(txn, &next, current.is_some(), left)
            .await
            .map_err(failure)
    }
}

#[async_trait]
impl Handle<QuoteIssued> for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: QuoteIssued,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let price = event.price.map(|money| Money {
            amount_minor: money.amount_minor,
            currency: money.currency,
        });
        store::record_quote(
            txn,
            uuid(&event.quote_id, "quote id")?,
            when(incoming),
            price,
        )
        .await
        .map_err(failure)
    }
}

#[async_trait]
impl Handle<JobCreated> for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobCreated,
        _incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let change = JobChange {
            due_by: pickup_due_by(&event.slot_date, &event.slot_window),
            kind: Some(event.kind),
            ..JobChange::default()
        };
        let job_id = uuid(&event.job_id, "job id")?;
        let order_id = uuid(&event.order_id, "order id")?;
        store::change_job(txn, job_id, order_id, change)
            .await
            .map_err(failure)
    }
}

#[async_trait]
impl Handle<PartnerAssigned> for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: PartnerAssigned,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let job_id = uuid(&event.job_id, "job id")?;
        let order_id = uuid(&event.order_id, "order id")?;
        let partner_id = uuid(&event.partner_id, "partner id")?;
        let change = JobChange {
            kind: Some(event.kind),
            partner_id: Some(partner_id),
            ..JobChange::default()
        };
        store::change_job(txn, job_id, order_id, change)
            .await
            .map_err(failure)?;
        store::change_offer(
            txn,
            job_id,
            partner_id,
            order_id,
            Some(when(incoming)),
            None,
        )
        .await
        .map_err(failure)
    }
}

/// A pickup as fulfilment records it or as the partner reports it: the earlier counts.
async fn picked_up(
    txn: &DatabaseTransaction,
    (order_id, job_id, partner_id): (&str, &str, &str),
    incoming: &IncomingEvent,
) -> Result<(), HandlerError> {
    let change = JobChange {
        partner_id: Some(uuid(partner_id, "partner id")?),
        picked_up_at: Some(when(incoming)),
        ..JobChange::default()
    };
    let job_id = uuid(job_id, "job id")?;
    store::change_job(txn, job_id, uuid(order_id, "order id")?, change)
        .await
        .map_err(failure)
}

#[async_trait]
impl Handle<DevicePickedUp> for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: DevicePickedUp,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        picked_up(
            txn,
            (&event.order_id, &event.job_id, &event.partner_id),
            incoming,
        )
        .await
    }
}

#[async_trait]
impl Handle<PickupReported> for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: PickupReported,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        picked_up(
            txn,
            (&event.order_id, &event.job_id, &event.partner_id),
            incoming,
        )
        .await
    }
}

async fn answered(
    txn: &DatabaseTransaction,
    (order_id, job_id, partner_id): (&str, &str, &str),
    answer: OfferAnswer,
    incoming: &IncomingEvent,
) -> Result<(), HandlerError> {
    store::change_offer(
        txn,
        uuid(job_id, "job id")?,
        uuid(partner_id, "partner id")?,
        uuid(order_id, "order id")?,
        None,
        Some((answer, when(incoming))),
    )
    .await
    .map_err(failure)
}

#[async_trait]
impl Handle<JobAccepted> for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobAccepted,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let ids = (
            event.order_id.as_str(),
            event.job_id.as_str(),
            event.partner_id.as_str(),
        );
        answered(txn, ids, OfferAnswer::Accepted, incoming).await
    }
}

#[async_trait]
impl Handle<JobDeclined> for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: JobDeclined,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let ids = (
            event.order_id.as_str(),
            event.job_id.as_str(),
            event.partner_id.as_str(),
        );
        answered(txn, ids, OfferAnswer::Declined, incoming).await
    }
}
