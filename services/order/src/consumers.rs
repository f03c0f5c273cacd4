//! What fulfilment tells the order service, applied to the order in the consumer's
//! transaction (exactly once, in `aggregate_seq` order, under the order's lease).
//!
//! An event that does not fit the order's state is acknowledged and logged, not
//! dead-lettered: it is the loser of a legitimate race (say, a pickup scheduled for an order
//! the shopper cancelled a moment earlier; fulfilment cancels that job when it sees
//! `OrderCancelled`), and retrying it could never succeed.

use async_trait::async_trait;
use events::fulfilment::{
    DevicePickedUp, InspectionCompleted, Money as ProtoMoney, PickupScheduled, ReturnCompleted,
};
use platform::consumer::{Handle, HandlerError, Handlers, IncomingEvent};
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::domain::{Currency, Money, Step};
use crate::store::{StoreError, apply_step, load};

/// The consumer group (and `processed_events` namespace) of the order service.
pub const CONSUMER_GROUP: &str = "order";

pub fn handlers() -> Handlers {
    Handlers::new()
        .on::<PickupScheduled, _>(FulfilmentHandler)
        .on::<DevicePickedUp, _>(FulfilmentHandler)
        .on::<InspectionCompleted, _>(FulfilmentHandler)
        .on::<ReturnCompleted, _>(FulfilmentHandler)
}

pub struct FulfilmentHandler;

fn order_id(value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value)
        .map_err(|_| HandlerError::Permanent(format!("`{value}` is not an order id")))
}

fn money(value: Option<&ProtoMoney>) -> Result<Money, HandlerError> {
    let value = value.ok_or_else(|| HandlerError::Permanent("the price is missing".into()))?;
    let currency = Currency::parse(&value.currency).ok_or_else(|| {
        HandlerError::Permanent(format!("`{}` is not a currency", value.currency))
    })?;
    if value.amount_minor < 0 {
        return Err(HandlerError::Permanent("a negative price".into()));
    }
    Ok(Money {
        amount_minor: value.amount_minor,
        currency,
    })
}

fn store_failure(error: StoreError) -> HandlerError {
    match error {
        StoreError::NotFound(id) => HandlerError::Permanent(format!("order {id} does not exist")),
        StoreError::Corrupt(..) | StoreError::KeyReused => {
            HandlerError::Permanent(error.to_string())
        }
        StoreError::Concurrent(_) => HandlerError::Transient(error.to_string()),
        // The database is the downstream here: wait for it rather than dead-letter.
        StoreError::Database(_) => HandlerError::Unavailable(error.to_string()),
        StoreError::Illegal(_) => HandlerError::Permanent(error.to_string()),
    }
}

async fn advance(
    txn: &DatabaseTransaction,
    id: Uuid,
    step: Step,
    incoming: &IncomingEvent,
) -> Result<(), HandlerError> {
    match apply_step(txn, id, &step).await {
        Ok(_) => Ok(()),
        Err(StoreError::Illegal(illegal)) => {
            tracing::warn!(
                order_id = %id,
                event = %incoming.envelope.event_type,
                current = %illegal.current,
                "event does not apply to the order's state; ignored"
            );
            Ok(())
        }
        Err(error) => Err(store_failure(error)),
    }
}

#[async_trait]
impl Handle<PickupScheduled> for FulfilmentHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: PickupScheduled,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let partner_id = Uuid::parse_str(&event.partner_id)
            .map_err(|_| HandlerError::Permanent("the partner id is not a UUID".into()))?;
        let step = Step::SchedulePickup { partner_id };
        advance(txn, order_id(&event.order_id)?, step, incoming).await
    }
}

#[async_trait]
impl Handle<DevicePickedUp> for FulfilmentHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: DevicePickedUp,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        advance(txn, order_id(&event.order_id)?, Step::PickUp, incoming).await
    }
}

#[async_trait]
impl Handle<InspectionCompleted> for FulfilmentHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: InspectionCompleted,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let id = order_id(&event.order_id)?;
        let observed = money(event.final_price.as_ref())?;
        let order = load(txn, id).await.map_err(store_failure)?;
        let Some(quoted) = order.quoted_price else {
            tracing::warn!(order_id = %id, current = %order.status, "inspection of an order without a quoted price; ignored");
            return Ok(());
        };
        if quoted.currency != observed.currency {
            return Err(HandlerError::Permanent(format!(
                "inspection priced in {} but the quote is in {}",
                observed.currency.as_str(),
                quoted.currency.as_str()
            )));
        }
        advance(txn, id, Step::inspection(quoted, observed), incoming).await
    }
}

#[async_trait]
impl Handle<ReturnCompleted> for FulfilmentHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: ReturnCompleted,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        advance(txn, order_id(&event.order_id)?, Step::Return, incoming).await
    }
}
