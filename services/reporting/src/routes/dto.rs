//! The reports' JSON shapes, and their CSV form.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::OrderStatus;
use crate::domain::figures::{Day, PartnerFigures, Payouts, Prices, Summary, TimeInStatus};

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCount {
    #[schema(schema_with = platform::schema::names::<OrderStatus>)]
    pub status: OrderStatus,
    pub orders: i64,
}

fn counts(counts: &[(OrderStatus, i64)]) -> Vec<StatusCount> {
    counts
        .iter()
        .map(|(status, orders)| StatusCount {
            status: *status,
            orders: *orders,
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutView {
    pub currency: String,
    pub orders_paid: i64,
    /// Paid out in the range, in minor units.
    pub total_minor: i64,
    pub average_seconds_to_payout: Option<f64>,
    pub longest_seconds_to_payout: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceView {
    pub currency: String,
    /// Orders placed in the range whose inspection set a final price.
    pub orders_inspected: i64,
    pub average_quoted_minor: Option<f64>,
    pub average_final_minor: Option<f64>,
    /// Of them, inspected below the quote.
    pub revised_down: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeInStatusView {
    #[schema(schema_with = platform::schema::names::<OrderStatus>)]
    pub status: OrderStatus,
    /// Orders that left this status within the range.
    pub left: i64,
    pub average_seconds: Option<f64>,
    pub longest_seconds: Option<f64>,
}

/// The business over a range of days.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryView {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// When the report was read; the projection trails the events by its consumer's lag.
    pub as_of: DateTime<Utc>,
    pub quotes_issued: i64,
    /// Quotes issued in the range that an order was placed on.
    pub quotes_ordered: i64,
    /// `quotes_ordered / quotes_issued`, four places; absent without quotes.
    pub conversion: Option<f64>,
    pub orders_placed: i64,
    /// The orders placed in the range, by the status they are in now.
    pub orders_by_status: Vec<StatusCount>,
    /// Payouts made in the range, per currency.
    pub payouts: Vec<PayoutView>,
    /// Quoted against final prices of the orders placed in the range, per currency.
    pub prices: Vec<PriceView>,
    /// Time spent in each status, over the orders that left it within the range.
    pub time_in_status: Vec<TimeInStatusView>,
    pub stuck_after_minutes: u32,
    /// Open orders (placed whenever) unchanged for longer than `stuck_after_minutes`.
    pub stuck: Vec<StatusCount>,
}

impl SummaryView {
    pub fn new(
        (from, to): (NaiveDate, NaiveDate),
        summary: &Summary,
        stuck_after_minutes: u32,
    ) -> Self {
        Self {
            from,
            to,
            as_of: Utc::now(),
            quotes_issued: summary.quotes_issued,
            quotes_ordered: summary.quotes_ordered,
            conversion: summary.conversion(),
            orders_placed: summary.orders_placed,
            orders_by_status: counts(&summary.orders_by_status),
            payouts: summary.payouts.iter().map(PayoutView::from).collect(),
            prices: summary.prices.iter().map(PriceView::from).collect(),
            time_in_status: summary
                .time_in_status
                .iter()
                .map(TimeInStatusView::from)
                .collect(),
            stuck_after_minutes,
            stuck: counts(&summary.stuck),
        }
    }
}

impl From<&Payouts> for PayoutView {
    fn from(payouts: &Payouts) -> Self {
        Self {
            currency: payouts.currency.clone(),
            orders_paid: payouts.orders_paid,
            total_minor: payouts.total_minor,
            average_seconds_to_payout: payouts.average_seconds_to_payout,
            longest_seconds_to_payout: payouts.longest_seconds_to_payout,
        }
    }
}

impl From<&Prices> for PriceView {
    fn from(prices: &Prices) -> Self {
        Self {
            currency: prices.currency.clone(),
            orders_inspected: prices.orders_inspected,
            average_quoted_minor: prices.average_quoted_minor,
            average_final_minor: prices.average_final_minor,
            revised_down: prices.revised_down,
        }
    }
}

impl From<&TimeInStatus> for TimeInStatusView {
    fn from(time: &TimeInStatus) -> Self {
        Self {
            status: time.status,
            left: time.left,
            average_seconds: time.average_seconds,
            longest_seconds: time.longest_seconds,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayView {
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    pub quotes_issued: i64,
    pub orders_placed: i64,
    /// That day's orders by the status they are in now, every status listed.
    pub by_status: Vec<StatusCount>,
}

/// Every day of the range, first to last, zeros included.
#[derive(Debug, Serialize, ToSchema)]
pub struct DaysView {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub items: Vec<DayView>,
}

impl From<&Day> for DayView {
    fn from(day: &Day) -> Self {
        Self {
            day: day.day,
            quotes_issued: day.quotes_issued,
            orders_placed: day.orders_placed,
            by_status: counts(&day.by_status),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub partner_id: Uuid,
    /// Jobs offered to it in the range.
    pub offers: i64,
    pub accepted: i64,
    pub declined: i64,
    /// `accepted / offers`, four places (an unanswered offer counts against it).
    pub acceptance_rate: Option<f64>,
    /// Pickups due in the range that it made.
    pub pickups: i64,
    /// Of them, reported by the end of their slot window (India time).
    pub on_time_pickups: i64,
    pub on_time_rate: Option<f64>,
}

impl From<&PartnerFigures> for PartnerView {
    fn from(partner: &PartnerFigures) -> Self {
        Self {
            partner_id: partner.partner_id,
            offers: partner.offers,
            accepted: partner.accepted,
            declined: partner.declined,
            acceptance_rate: partner.acceptance_rate(),
            pickups: partner.pickups,
            on_time_pickups: partner.on_time_pickups,
            on_time_rate: partner.on_time_rate(),
        }
    }
}

/// Every partner with an offer or a pickup in the range, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnersView {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub items: Vec<PartnerView>,
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

/// Rows as CSV (RFC 4180). Every value is a number, a date, a UUID or a status name, none
/// of which holds a comma, a quote or a line break, so no field needs quoting.
fn csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// `day,quotes_issued,orders_placed,<status>…`: a column per status.
pub fn days_as_csv(days: &[Day]) -> String {
    let statuses: Vec<&'static str> = <OrderStatus as strum::IntoEnumIterator>::iter()
        .map(OrderStatus::as_str)
        .collect();
    let header: Vec<&str> = ["day", "quotes_issued", "orders_placed"]
        .into_iter()
        .chain(statuses)
        .collect();
    csv(
        &header,
        days.iter().map(|day| {
            [
                day.day.to_string(),
                day.quotes_issued.to_string(),
                day.orders_placed.to_string(),
            ]
            .into_iter()
            .chain(day.by_status.iter().map(|(_, count)| count.to_string()))
            .collect()
        }),
    )
}

pub fn partners_as_csv(partners: &[PartnerFigures]) -> String {
    csv(
        &[
            "partner_id",
            "offers",
            "accepted",
            "declined",
            "acceptance_rate",
            "pickups",
            "on_time_pickups",
            "on_time_rate",
        ],
        partners.iter().map(|partner| {
            vec![
                partner.partner_id.to_string(),
                partner.offers.to_string(),
                partner.accepted.to_string(),
                partner.declined.to_string(),
                optional(partner.acceptance_rate()),
                partner.pickups.to_string(),
                partner.on_time_pickups.to_string(),
                optional(partner.on_time_rate()),
            ]
        }),
    )
}
