//! An order as reporting sees it: one row, changed by each of the order's own events in
//! their sequence (the consumer runtime guarantees it), never by another service's.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::OrderStatus;

/// An amount in minor units and its currency, as the events carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

/// What an `order.events` event says happened, reduced to what a report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderFact {
    Placed {
        quote_id: Option<Uuid>,
    },
    Confirmed {
        quoted: Option<Money>,
    },
    Rejected,
    Cancelled,
    PickupScheduled,
    PickedUp,
    Inspected {
        final_price: Option<Money>,
    },
    PriceRevised {
        quoted: Option<Money>,
        revised: Option<Money>,
    },
    RevisedPriceAccepted,
    RevisedPriceRefused,
    Completed {
        paid: Option<Money>,
    },
    Returned,
}

impl OrderFact {
    /// The status the order is in after this event.
    pub fn status(&self) -> OrderStatus {
        match self {
            Self::Placed { .. } => OrderStatus::Received,
            Self::Confirmed { .. } => OrderStatus::Confirmed,
            Self::Rejected => OrderStatus::Rejected,
            Self::Cancelled => OrderStatus::Cancelled,
            Self::PickupScheduled => OrderStatus::PickupScheduled,
            Self::PickedUp => OrderStatus::PickedUp,
            Self::Inspected { .. } | Self::RevisedPriceAccepted => OrderStatus::Inspected,
            Self::PriceRevised { .. } => OrderStatus::AwaitingShopper,
            Self::RevisedPriceRefused => OrderStatus::Returning,
            Self::Completed { .. } => OrderStatus::Completed,
            Self::Returned => OrderStatus::Returned,
        }
    }
}

/// One order's report row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOrder {
    pub id: Uuid,
    pub quote_id: Option<Uuid>,
    /// When it was placed; `None` if the projection never saw `OrderPlaced` (it started
    /// reading after the topic's retention dropped it).
    pub placed_at: Option<DateTime<Utc>>,
    pub status: OrderStatus,
    pub status_since: DateTime<Utc>,
    pub currency: Option<String>,
    pub quoted_minor: Option<i64>,
    /// The price inspection found, lower or not.
    pub final_minor: Option<i64>,
    pub paid_minor: Option<i64>,
    pub paid_at: Option<DateTime<Utc>>,
}

/// The time an order spent in one status, closed by the event that moved it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSpan {
    pub status: OrderStatus,
    pub entered_at: DateTime<Utc>,
    pub left_at: DateTime<Utc>,
}

impl StateSpan {
    pub fn millis(&self) -> i64 {
        (self.left_at - self.entered_at).num_milliseconds().max(0)
    }
}

impl ReportOrder {
    /// The row after `fact`, which happened at `at`, and the span of the status it left
    /// (none for the first event the projection sees of the order).
    pub fn after(
        current: Option<&ReportOrder>,
        id: Uuid,
        fact: &OrderFact,
        at: DateTime<Utc>,
    ) -> (ReportOrder, Option<StateSpan>) {
        let mut next = current.cloned().unwrap_or(ReportOrder {
            id,
            quote_id: None,
            placed_at: None,
            status: fact.status(),
            status_since: at,
            currency: None,
            quoted_minor: None,
            final_minor: None,
            paid_minor: None,
            paid_at: None,
        });
        let left = current.map(|order| StateSpan {
            status: order.status,
            entered_at: order.status_since,
            left_at: at,
        });
        let mut price = |money: &Option<Money>| {
            money.as_ref().map(|money| {
                next.currency.get_or_insert_with(|| money.currency.clone());
                money.amount_minor
            })
        };
        match fact {
            OrderFact::Placed { quote_id } => {
                next.quote_id = *quote_id;
                next.placed_at = Some(at);
            }
            OrderFact::Confirmed { quoted } => {
                next.quoted_minor = price(quoted).or(next.quoted_minor)
            }
            OrderFact::Inspected { final_price } => {
                next.final_minor = price(final_price).or(next.final_minor);
            }
            OrderFact::PriceRevised { quoted, revised } => {
                let quoted = price(quoted);
                next.final_minor = price(revised).or(next.final_minor);
                next.quoted_minor = next.quoted_minor.or(quoted);
            }
            OrderFact::Completed { paid } => {
                next.paid_minor = price(paid);
                next.paid_at = Some(at);
            }
            OrderFact::Rejected
            | OrderFact::Cancelled
            | OrderFact::PickupScheduled
            | OrderFact::PickedUp
            | OrderFact::RevisedPriceAccepted
            | OrderFact::RevisedPriceRefused
            | OrderFact::Returned => {}
        }
        next.status = fact.status();
        next.status_since = at;
        (next, left)
    }

    /// The UTC day it was placed on, the day reports count it under.
    pub fn placed_on(&self) -> Option<NaiveDate> {
        self.placed_at.map(|at| at.date_naive())
    }

    /// Milliseconds from placing to payout, for a paid order whose placing was seen.
    pub fn millis_to_payout(&self) -> Option<i64> {
        Some((self.paid_at? - self.placed_at?).num_milliseconds().max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn inr(amount_minor: i64) -> Option<Money> {
        Some(Money {
            amount_minor,
            currency: "INR".into(),
        })
    }

    #[test]
    fn an_order_through_a_lower_inspection_keeps_the_quote_the_revision_and_the_payout() {
        let id = Uuid::now_v7();
        let quote = Uuid::now_v7();
        let start = Utc::now();
        let at = |minutes| start + Duration::minutes(minutes);
        let steps = [
            OrderFact::Placed {
                quote_id: Some(quote),
            },
            OrderFact::Confirmed {
                quoted: inr(50_000),
            },
            OrderFact::PickupScheduled,
            OrderFact::PickedUp,
            OrderFact::PriceRevised {
                quoted: inr(50_000),
                revised: inr(42_000),
            },
            OrderFact::RevisedPriceAccepted,
            OrderFact::Completed { paid: inr(42_000) },
        ];
        let mut order: Option<ReportOrder> = None;
        let mut spans = Vec::new();
        for (minute, fact) in steps.iter().enumerate() {
            let (next, span) = ReportOrder::after(order.as_ref(), id, fact, at(minute as i64 * 10));
            spans.extend(span);
            order = Some(next);
        }
        let order = order.unwrap();
        assert_eq!(order.status, OrderStatus::Completed);
        assert_eq!(order.quote_id, Some(quote));
        assert_eq!(order.quoted_minor, Some(50_000));
        assert_eq!(order.final_minor, Some(42_000));
        assert_eq!(order.paid_minor, Some(42_000));
        assert_eq!(order.currency.as_deref(), Some("INR"));
        assert_eq!(order.millis_to_payout(), Some(60 * 60 * 1000));
        let statuses: Vec<OrderStatus> = spans.iter().map(|span| span.status).collect();
        assert_eq!(
            statuses,
            [
                OrderStatus::Received,
                OrderStatus::Confirmed,
                OrderStatus::PickupScheduled,
                OrderStatus::PickedUp,
                OrderStatus::AwaitingShopper,
                OrderStatus::Inspected,
            ]
        );
        assert!(spans.iter().all(|span| span.millis() == 10 * 60 * 1000));
    }

    #[test]
    fn an_order_first_seen_after_its_placing_has_no_placing_time_and_no_time_to_payout() {
        let id = Uuid::now_v7();
        let (order, span) =
            ReportOrder::after(None, id, &OrderFact::Completed { paid: inr(1) }, Utc::now());
        assert_eq!(span, None);
        assert_eq!(order.placed_at, None);
        assert_eq!(order.millis_to_payout(), None);
        assert_eq!(order.status, OrderStatus::Completed);
    }
}
