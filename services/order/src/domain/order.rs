//! An order as the service works with it, and how one step changes it: the transition rule
//! of the aggregate. The store persists what [`OrderRecord::after`] decides; nothing else
//! changes an order's fields.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{IllegalTransition, Money, OrderStatus, PayoutInstructions, PickupRequest, Step};

/// An order as the service works with it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub id: Uuid,
    pub shopper_id: String,
    pub quote_id: Uuid,
    pub status: OrderStatus,
    pub version: i64,
    pub pickup: PickupRequest,
    pub payout: PayoutInstructions,
    pub variant_id: Option<Uuid>,
    pub quoted_price: Option<Money>,
    pub final_price: Option<Money>,
    pub partner_id: Option<Uuid>,
    pub reason: Option<String>,
    pub payout_reference: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status_changed_at: DateTime<Utc>,
}

/// What the shopper asked for, validated.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: Uuid,
    pub shopper_id: String,
    pub quote_id: Uuid,
    pub pickup: PickupRequest,
    pub payout: PayoutInstructions,
}

impl OrderRecord {
    pub fn received(order: NewOrder, now: DateTime<Utc>) -> Self {
        Self {
            id: order.id,
            shopper_id: order.shopper_id,
            quote_id: order.quote_id,
            status: OrderStatus::Received,
            version: 1,
            pickup: order.pickup,
            payout: order.payout,
            variant_id: None,
            quoted_price: None,
            final_price: None,
            partner_id: None,
            reason: None,
            payout_reference: None,
            attempts: 0,
            next_attempt_at: Some(now),
            last_error: None,
            created_at: now,
            updated_at: now,
            status_changed_at: now,
        }
    }

    /// The order after `step`, at the next version, or why the step is illegal now.
    pub fn after(&self, step: &Step, now: DateTime<Utc>) -> Result<Self, IllegalTransition> {
        let status = self.status.after(step)?;
        let mut next = self.clone();
        next.status = status;
        next.version += 1;
        next.updated_at = now;
        next.status_changed_at = now;
        match step {
            Step::Confirm {
                variant_id, quoted, ..
            } => {
                next.variant_id = Some(*variant_id);
                next.quoted_price = Some(*quoted);
            }
            Step::Reject { reason } | Step::Cancel { reason, .. } => {
                next.reason = Some(reason.clone());
            }
            Step::SchedulePickup { partner_id } => next.partner_id = Some(*partner_id),
            Step::Inspect { final_price, .. } => next.final_price = Some(*final_price),
            Step::Complete {
                payout_reference, ..
            } => next.payout_reference = Some(payout_reference.clone()),
            Step::PickUp | Step::AcceptRevisedPrice | Step::RefuseRevisedPrice | Step::Return => {}
        }
        // A fresh state the processor acts on starts its retries from zero.
        next.attempts = 0;
        next.last_error = None;
        next.next_attempt_at = status.needs_processing().then_some(now);
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, NaiveDate};

    use super::*;
    use crate::domain::{Actor, Money, PayoutMethod, SlotWindow};

    fn received_at(now: DateTime<Utc>) -> OrderRecord {
        OrderRecord::received(
            NewOrder {
                id: Uuid::new_v4(),
                shopper_id: "shopper-1".into(),
                quote_id: Uuid::new_v4(),
                pickup: PickupRequest {
                    address: "1 MG Road".into(),
                    pincode: "560001".into(),
                    slot_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                    slot_window: SlotWindow::Morning,
                },
                payout: PayoutInstructions {
                    method: PayoutMethod::Upi,
                    details: BTreeMap::from([("vpa".into(), "shopper@upi".into())]),
                },
            },
            now,
        )
    }

    #[test]
    fn a_new_order_is_received_at_version_one_and_owes_the_processor_a_step_now() {
        let now = Utc::now();
        let order = received_at(now);
        assert_eq!(order.status, OrderStatus::Received);
        assert_eq!(order.version, 1);
        assert_eq!(order.next_attempt_at, Some(now));
    }

    #[test]
    fn confirming_records_the_variant_and_quoted_price_at_the_next_version() {
        let order = received_at(Utc::now());
        let later = order.created_at + Duration::seconds(5);
        let variant_id = Uuid::new_v4();
        let step = Step::Confirm {
            variant_id,
            quoted: Money::inr(100_000),
        };

        let confirmed = order.after(&step, later).unwrap();

        assert_eq!(confirmed.status, OrderStatus::Confirmed);
        assert_eq!(confirmed.version, 2);
        assert_eq!(confirmed.variant_id, Some(variant_id));
        assert_eq!(confirmed.quoted_price, Some(Money::inr(100_000)));
        assert_eq!(confirmed.status_changed_at, later);
        assert_eq!(
            confirmed.next_attempt_at, None,
            "a confirmed order waits for fulfilment, not for the processor"
        );
    }

    #[test]
    fn a_fresh_state_starts_the_processors_retries_from_zero() {
        let mut order = received_at(Utc::now());
        order.attempts = 7;
        order.last_error = Some("quote is down".into());
        let confirmed = order
            .after(
                &Step::Confirm {
                    variant_id: Uuid::new_v4(),
                    quoted: Money::inr(50_000),
                },
                Utc::now(),
            )
            .unwrap();
        assert_eq!(confirmed.attempts, 0);
        assert_eq!(confirmed.last_error, None);
    }

    #[test]
    fn a_cancel_keeps_its_reason_and_an_illegal_step_changes_nothing() {
        let order = received_at(Utc::now());
        let cancel = Step::Cancel {
            by: Actor::Shopper,
            reason: "changed my mind".into(),
        };
        let cancelled = order.after(&cancel, Utc::now()).unwrap();
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
        assert_eq!(cancelled.reason.as_deref(), Some("changed my mind"));

        let refused = cancelled.after(&Step::PickUp, Utc::now());
        assert_eq!(
            refused,
            Err(IllegalTransition {
                current: OrderStatus::Cancelled,
                step: "pick_up",
            })
        );
    }
}
