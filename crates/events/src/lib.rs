//! The contract between services: the protobuf envelope, topic names and the [`Event`] trait.
//!
//! Services never import each other; everything they say to each other asynchronously is
//! defined here, so a change to the contract is visible in one place and one review.

pub mod topics;
pub mod vocabulary;

mod envelope;

pub use envelope::{DecodeError, Event};

/// Generated protobuf types. Regenerated from `proto/` on every build.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/recommerce.events.v1.rs"));
}

pub use proto::Envelope;

/// Declares which topic each generated message is published on, and its stable type name
/// (`<service>.<Message>`), which is what consumers dispatch on.
macro_rules! events_on {
    ($service:literal, $topic:path; $($name:ident),+ $(,)?) => {
        $(impl $crate::Event for $name {
            const EVENT_TYPE: &'static str = concat!($service, ".", stringify!($name));
            const TOPIC: &'static str = $topic;
        })+
    };
}

/// `catalog.events`: the device catalog as other services see it.
pub mod catalog {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/recommerce.catalog.v1.rs"));

    events_on!(
        "catalog",
        crate::topics::CATALOG_EVENTS;
        ModelPublished,
        VariantPriceChanged,
        VariantRemoved,
        ModelRetired,
        QuestionnaireReplaced
    );
}

/// `quote.events`: quotes issued and locked to an order.
pub mod quote {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/recommerce.quote.v1.rs"));

    events_on!(
        "quote",
        crate::topics::QUOTE_EVENTS;
        QuoteIssued,
        QuoteLocked,
        QuoteExpired
    );
}

/// `order.events`: every transition of an order, keyed by order id.
pub mod order {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/recommerce.order.v1.rs"));

    events_on!(
        "order",
        crate::topics::ORDER_EVENTS;
        OrderPlaced,
        OrderConfirmed,
        OrderRejected,
        OrderCancelled,
        OrderPickupScheduled,
        OrderPickedUp,
        OrderInspected,
        OrderPriceRevised,
        RevisedPriceAccepted,
        RevisedPriceRefused,
        OrderCompleted,
        OrderReturned
    );
}

/// `fulfilment.events`: pickup, inspection and return jobs, keyed by order id.
pub mod fulfilment {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/recommerce.fulfilment.v1.rs"));

    events_on!(
        "fulfilment",
        crate::topics::FULFILMENT_EVENTS;
        JobCreated,
        PartnerAssigned,
        JobUnassigned,
        PickupScheduled,
        DevicePickedUp,
        InspectionCompleted,
        ReturnCompleted,
        JobCancelled,
        JobStatusChanged
    );
}

/// `partner.events`: what partners report through the portal, keyed by order id.
pub mod partner {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/recommerce.partner.v1.rs"));

    events_on!(
        "partner",
        crate::topics::PARTNER_EVENTS;
        JobAccepted,
        JobDeclined,
        PickupReported,
        HubDeliveryReported,
        InspectionReported,
        ReturnDeliveryReported
    );
}
