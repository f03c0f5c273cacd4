//! The figures a report gives, as records the store fills and the routes show, and the
//! ratios between them.

use chrono::NaiveDate;
use uuid::Uuid;

use super::OrderStatus;

/// A share as a fraction rounded to four places; `None` when nothing was counted.
pub fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// An average rounded to two places; `None` over nothing.
pub fn average(total: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| (total as f64 / count as f64 * 100.0).round() / 100.0)
}

/// One day: quotes issued that day, orders placed that day and where those orders are now.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub day: NaiveDate,
    pub quotes_issued: i64,
    pub orders_placed: i64,
    /// Every status, in lifecycle order, with the count of that day's orders now in it.
    pub by_status: Vec<(OrderStatus, i64)>,
}

/// Money paid out in one currency over the range.
#[derive(Debug, Clone, PartialEq)]
pub struct Payouts {
    pub currency: String,
    pub orders_paid: i64,
    pub total_minor: i64,
    /// Seconds from placing to payout, over the paid orders whose placing was seen.
    pub average_seconds_to_payout: Option<f64>,
    pub longest_seconds_to_payout: Option<f64>,
}

/// Quoted against final prices of the orders inspected, in one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    pub currency: String,
    pub orders_inspected: i64,
    pub average_quoted_minor: Option<f64>,
    pub average_final_minor: Option<f64>,
    /// Orders whose inspection found a price lower than quoted.
    pub revised_down: i64,
}

/// How long orders stayed in one status before moving on (left within the range).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeInStatus {
    pub status: OrderStatus,
    pub left: i64,
    pub average_seconds: Option<f64>,
    pub longest_seconds: Option<f64>,
}

/// Everything at once for the range.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub quotes_issued: i64,
    /// Quotes issued in the range that an order was placed on (whenever).
    pub quotes_ordered: i64,
    pub orders_placed: i64,
    /// The orders placed in the range, by the status they are in now.
    pub orders_by_status: Vec<(OrderStatus, i64)>,
    pub payouts: Vec<Payouts>,
    pub prices: Vec<Prices>,
    pub time_in_status: Vec<TimeInStatus>,
    /// Open orders (placed whenever) unchanged for longer than the stuck limit, by status.
    pub stuck: Vec<(OrderStatus, i64)>,
}

impl Summary {
    pub fn conversion(&self) -> Option<f64> {
        share(self.quotes_ordered, self.quotes_issued)
    }
}

/// One partner's answers to offers (offered in the range) and its pickups (due in it).
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerFigures {
    pub partner_id: Uuid,
    pub offers: i64,
    pub accepted: i64,
    pub declined: i64,
    pub pickups: i64,
    pub on_time_pickups: i64,
}

impl PartnerFigures {
    /// Offers accepted of all offers made (an offer left unanswered counts against it).
    pub fn acceptance_rate(&self) -> Option<f64> {
        share(self.accepted, self.offers)
    }

    pub fn on_time_rate(&self) -> Option<f64> {
        share(self.on_time_pickups, self.pickups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_averages_round_and_are_absent_over_nothing() {
        assert_eq!(share(1, 3), Some(0.3333));
        assert_eq!(share(0, 0), None);
        assert_eq!(average(10, 4), Some(2.5));
        assert_eq!(average(1, 0), None);
    }
}
