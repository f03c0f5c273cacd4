//! The order API's JSON shapes. Requests refuse unknown fields, so a typo is an error
//! rather than a silently ignored instruction.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::OrderRecord;
use crate::domain::{Money, OrderStatus, PayoutMethod, SlotWindow};
use crate::store::TimelineEntry;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotDto {
    #[schema(value_type = String, format = Date, example = "2026-11-25")]
    pub date: NaiveDate,
    #[schema(value_type = String, example = "morning")]
    pub window: SlotWindow,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickupDto {
    pub address: String,
    /// Six digits.
    #[schema(example = "560001")]
    pub pincode: String,
    pub slot: SlotDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutDto {
    /// `upi` (details: `vpa`) or `bank_transfer` (details: `account_name`,
    /// `account_number`, `ifsc`).
    #[schema(value_type = String, example = "upi")]
    pub method: PayoutMethod,
    pub details: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    pub quote_id: Uuid,
    pub pickup: PickupDto,
    pub payout: PayoutDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderAccepted {
    pub id: Uuid,
    #[schema(value_type = String, example = "received")]
    pub status: OrderStatus,
    pub quote_id: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoneyDto {
    pub amount_minor: i64,
    #[schema(example = "INR")]
    pub currency: String,
}

impl MoneyDto {
    fn of(money: Option<Money>) -> Option<MoneyDto> {
        money.map(|money| MoneyDto {
            amount_minor: money.amount_minor,
            currency: money.currency.as_str().to_owned(),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PayoutView {
    #[schema(value_type = String)]
    pub method: PayoutMethod,
    /// Account numbers and UPI addresses show only their last four characters.
    pub details: BTreeMap<String, String>,
}

/// Where the processor is with an order it acts on (admins only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProcessingView {
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    #[schema(value_type = String, example = "confirmed")]
    pub status: OrderStatus,
    /// Increases with every transition; equals the last timeline `seq`.
    pub version: i64,
    pub quote_id: Uuid,
    pub shopper_id: String,
    pub pickup: PickupDto,
    pub payout: PayoutView,
    pub variant_id: Option<Uuid>,
    pub quoted_price: Option<MoneyDto>,
    pub final_price: Option<MoneyDto>,
    pub partner_id: Option<Uuid>,
    /// Why the order was rejected or cancelled.
    pub reason: Option<String>,
    pub payout_reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status_changed_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing: Option<ProcessingView>,
}

impl OrderView {
    pub fn of(order: &OrderRecord, for_admin: bool) -> Self {
        Self {
            id: order.id,
            status: order.status,
            version: order.version,
            quote_id: order.quote_id,
            shopper_id: order.shopper_id.clone(),
            pickup: PickupDto {
                address: order.pickup.address.clone(),
                pincode: order.pickup.pincode.clone(),
                slot: SlotDto {
                    date: order.pickup.slot_date,
                    window: order.pickup.slot_window,
                },
            },
            payout: PayoutView {
                method: order.payout.method,
                details: order.payout.masked(),
            },
            variant_id: order.variant_id,
            quoted_price: MoneyDto::of(order.quoted_price),
            final_price: MoneyDto::of(order.final_price),
            partner_id: order.partner_id,
            reason: order.reason.clone(),
            payout_reference: order.payout_reference.clone(),
            created_at: order.created_at,
            updated_at: order.updated_at,
            status_changed_at: order.status_changed_at,
            processing: for_admin.then(|| ProcessingView {
                attempts: order.attempts,
                next_attempt_at: order.next_attempt_at,
                last_error: order.last_error.clone(),
            }),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TimelineItem {
    /// The order's version after this step: 1, 2, 3, … without gaps.
    pub seq: i64,
    pub status: String,
    /// The `order.events` event published for this step, e.g. `OrderConfirmed`.
    pub event: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl From<TimelineEntry> for TimelineItem {
    fn from(entry: TimelineEntry) -> Self {
        Self {
            seq: entry.seq,
            status: entry.status,
            event: entry.event,
            detail: entry.detail,
            at: entry.at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Timeline {
    pub order_id: Uuid,
    pub items: Vec<TimelineItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminCancelRequest {
    pub reason: String,
}
