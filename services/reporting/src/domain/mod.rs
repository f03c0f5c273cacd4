//! What the projection knows, as pure rules: the order statuses as the order service
//! publishes them, what each `order.events` event does to an order's report row
//! ([`ReportOrder::after`]), when a pickup was due ([`pickup_due_by`]), the range a report
//! covers ([`ReportRange`]) and the figures ([`figures`]). Nothing here touches a database.

pub mod figures;
mod order;
mod pickup;
mod range;

pub use order::{Money, OrderFact, ReportOrder, StateSpan};
pub use pickup::pickup_due_by;
pub use range::{RangeQuery, RangeRefused, ReportRange, day_key};

use serde::{Deserialize, Serialize};

/// Ten years, as the order service's admin search: an order unchanged for longer is not
/// stuck but forgotten.
pub const MAX_STUCK_AFTER_MINUTES: u32 = 10 * 366 * 24 * 60;

platform::named_enum! {
    #[derive(Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[strum(serialize_all = "snake_case")]
    /// An order's status as `order.events` tells it, in the order service's words (a contract
    /// test holds the two lists equal).
    pub enum OrderStatus {
        Received,
        Confirmed,
        PickupScheduled,
        PickedUp,
        Inspected,
        AwaitingShopper,
        Returning,
        Returned,
        Completed,
        Rejected,
        Cancelled,
    }
}

impl OrderStatus {
    /// Nothing moves an order out of these, so an order in one is never stuck.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Returned | Self::Completed | Self::Rejected | Self::Cancelled
        )
    }
}

platform::named_enum! {
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[strum(serialize_all = "snake_case")]
    /// A partner's answer to a job offered to it.
    pub enum OfferAnswer {
        Accepted,
        Declined,
    }
}
