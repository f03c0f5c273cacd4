//! What the order service tells the others: one `order.events` event per transition, keyed
//! by order id, with `aggregate_seq` = the order's version after it, written to the outbox
//! in the transaction that makes the transition.

use events::order as proto;
use sea_orm::sea_query::InsertStatement;
use sea_orm::{ConnectionTrait, DbErr};

use crate::domain::OrderRecord;
use crate::domain::{Money, Step};

/// The `producer` in every envelope this service writes.
pub const PRODUCER: &str = "order";

fn money(value: Money) -> proto::Money {
    proto::Money {
        amount_minor: value.amount_minor,
        currency: value.currency.as_str().to_owned(),
    }
}

fn pickup(order: &OrderRecord) -> proto::PickupDetails {
    proto::PickupDetails {
        address: order.pickup.address.clone(),
        pincode: order.pickup.pincode.clone(),
        slot_date: order.pickup.slot_date.to_string(),
        slot_window: order.pickup.slot_window.as_str().to_owned(),
    }
}

async fn emit<C: ConnectionTrait, E: events::Event>(
    db: &C,
    order: &OrderRecord,
    event: E,
) -> Result<&'static str, DbErr> {
    let aggregate_seq = u64::try_from(order.version).unwrap_or(0);
    platform::outbox::publish(db, PRODUCER, &order.id.to_string(), aggregate_seq, &event).await?;
    Ok(name_of(&event))
}

/// The `OrderPlaced` outbox row for a new order, to write with the order itself, and the
/// event's name for the timeline.
pub fn placed(order: &OrderRecord) -> Result<(InsertStatement, &'static str), DbErr> {
    let event = proto::OrderPlaced {
        order_id: order.id.to_string(),
        shopper_id: order.shopper_id.clone(),
        quote_id: order.quote_id.to_string(),
        pickup: Some(pickup(order)),
    };
    let aggregate_seq = u64::try_from(order.version).unwrap_or(0);
    let (_, row) = platform::outbox::row(PRODUCER, &order.id.to_string(), aggregate_seq, &event)?;
    Ok((row, name_of(&event)))
}

fn name_of<E: events::Event>(_: &E) -> &'static str {
    E::EVENT_TYPE.trim_start_matches("order.")
}

/// Publishes the event for `step`, which has just moved `order` (already at its new version).
/// Returns the event's name for the timeline.
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    order: &OrderRecord,
    step: &Step,
) -> Result<&'static str, DbErr> {
    let order_id = order.id.to_string();
    match step {
        Step::Confirm {
            variant_id, quoted, ..
        } => {
            let event = proto::OrderConfirmed {
                order_id,
                shopper_id: order.shopper_id.clone(),
                quote_id: order.quote_id.to_string(),
                variant_id: variant_id.to_string(),
                quoted_price: Some(money(*quoted)),
                pickup: Some(pickup(order)),
            };
            emit(db, order, event).await
        }
        Step::Reject { reason } => {
            let event = proto::OrderRejected {
                order_id,
                reason: reason.clone(),
            };
            emit(db, order, event).await
        }
        Step::Cancel { by, reason } => {
            let cancelled_by = match by {
                crate::domain::Actor::Shopper => "shopper",
                crate::domain::Actor::Admin => "admin",
            };
            let event = proto::OrderCancelled {
                order_id,
                cancelled_by: cancelled_by.to_owned(),
                reason: reason.clone(),
            };
            emit(db, order, event).await
        }
        Step::SchedulePickup { partner_id } => {
            let event = proto::OrderPickupScheduled {
                order_id,
                partner_id: partner_id.to_string(),
            };
            emit(db, order, event).await
        }
        Step::PickUp => emit(db, order, proto::OrderPickedUp { order_id }).await,
        Step::Inspect {
            final_price,
            lower_than_quoted: false,
        } => {
            let event = proto::OrderInspected {
                order_id,
                final_price: Some(money(*final_price)),
            };
            emit(db, order, event).await
        }
        Step::Inspect {
            final_price,
            lower_than_quoted: true,
        } => {
            let event = proto::OrderPriceRevised {
                order_id,
                quoted_price: order.quoted_price.map(money),
                revised_price: Some(money(*final_price)),
            };
            emit(db, order, event).await
        }
        Step::AcceptRevisedPrice => {
            let event = proto::RevisedPriceAccepted {
                order_id,
                revised_price: order.final_price.map(money),
            };
            emit(db, order, event).await
        }
        Step::RefuseRevisedPrice => {
            let event = proto::RevisedPriceRefused {
                order_id,
                return_to: Some(pickup(order)),
            };
            emit(db, order, event).await
        }
        Step::Complete {
            paid,
            payout_reference,
        } => {
            let event = proto::OrderCompleted {
                order_id,
                paid: Some(money(*paid)),
                payout_reference: payout_reference.clone(),
            };
            emit(db, order, event).await
        }
        Step::Return => emit(db, order, proto::OrderReturned { order_id }).await,
    }
}
