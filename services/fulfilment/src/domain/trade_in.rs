//! What fulfilment keeps of a confirmed order: where and when to pick the device up, and
//! what the shopper was quoted.

use uuid::Uuid;

/// A confirmed order as fulfilment keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeIn {
    pub order_id: Uuid,
    pub quote_id: Uuid,
    pub variant_id: Uuid,
    pub pincode: String,
    pub address: String,
    pub slot_date: String,
    pub slot_window: String,
    /// The price the shopper was quoted (`OrderConfirmed.quoted_price`).
    pub quoted_amount_minor: i64,
    pub quoted_currency: String,
}
