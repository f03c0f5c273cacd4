//! The order API's JSON shapes. Requests refuse unknown fields, so a typo is an error
//! rather than a silently ignored instruction.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{ACCOUNT_NUMBER_DIGITS, IFSC_CHARS, MAX_DETAIL_CHARS, OrderRecord};
use crate::domain::{Money, OrderStatus, PayoutMethod, SlotWindow};
use crate::store::TimelineEntry;

// Request limits are the domain's (`crate::domain::MAX_*`, checked in `PickupRequest::parse`
// and `PayoutInstructions::parse`); the document's tests hold the two equal. Texts are
// trimmed, then must be non-empty (`pattern`: a character other than white space).

/// A pickup slot: `date` from today up to `MAX_DAYS_AHEAD` (60) days ahead.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotDto {
    #[schema(value_type = String, format = Date, example = "2026-11-25")]
    pub date: NaiveDate,
    // Checked with the other fields: an unknown window is one more violation.
    #[schema(schema_with = platform::schema::names::<SlotWindow>)]
    pub window: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickupDto {
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub address: String,
    /// Six digits, not starting with 0.
    #[schema(example = "560001", pattern = "^[1-9][0-9]{5}$")]
    pub pincode: String,
    pub slot: SlotDto,
}

/// How the shopper is paid: `method` `upi` with `details` `vpa`, or `bank_transfer` with
/// `details` `account_name`, `account_number` and `ifsc`; exactly those.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutDto {
    // Checked with the other fields: an unknown method is one more violation.
    #[schema(schema_with = platform::schema::names::<PayoutMethod>)]
    pub method: String,
    #[schema(schema_with = payout_details)]
    pub details: BTreeMap<String, String>,
}

/// The payout details a method may name, each in the form `PayoutInstructions::parse`
/// checks; which of them a method needs, `PayoutDto`'s description says.
fn payout_details() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};

    let text = |pattern: &str, description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(MAX_DETAIL_CHARS))
            .pattern(Some(pattern))
            .description(Some(description))
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "vpa",
            text(
                r"^[^@][\s\S]*@[\s\S]*[^@]$",
                "upi: the UPI address, name@bank",
            )
            .examples(["asha@okbank"]),
        )
        .property(
            "account_name",
            text(r"\S", "bank_transfer: the account holder's name"),
        )
        .property(
            "account_number",
            text(
                &format!(
                    "^[0-9]{{{},{}}}$",
                    ACCOUNT_NUMBER_DIGITS.start(),
                    ACCOUNT_NUMBER_DIGITS.end()
                ),
                "bank_transfer: the account number, digits only",
            ),
        )
        .property(
            "ifsc",
            text(
                &format!("^[A-Za-z0-9]{{{IFSC_CHARS}}}$"),
                "bank_transfer: the branch's IFSC code",
            ),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(
            "Exactly the fields the method needs: `vpa` for upi; `account_name`, \
             `account_number` and `ifsc` for bank_transfer",
        ))
        .build()
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
    // Always `received`.
    #[schema(schema_with = platform::schema::names::<OrderStatus>)]
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
    #[schema(schema_with = platform::schema::names::<PayoutMethod>)]
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
    #[schema(schema_with = platform::schema::names::<OrderStatus>)]
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
                    window: order.pickup.slot_window.as_str().to_owned(),
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
    // The order's status after this step.
    #[schema(schema_with = platform::schema::names::<OrderStatus>)]
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
    /// Trimmed; at most `MAX_REASON_CHARS` (500) characters.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}
