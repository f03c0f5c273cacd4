//! The contract between services: the protobuf envelope, topic names and the [`Event`] trait.
//!
//! Services never import each other; everything they say to each other asynchronously is
//! defined here, so a change to the contract is visible in one place and one review.

pub mod topics;

mod envelope;

pub use envelope::{DecodeError, Event};

/// Generated protobuf types. Regenerated from `proto/` on every build.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/recommerce.events.v1.rs"));
}

pub use proto::Envelope;

/// `catalog.events`: the device catalog as other services see it.
pub mod catalog {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/recommerce.catalog.v1.rs"));

    use crate::{Event, topics::CATALOG_EVENTS};

    macro_rules! catalog_event {
        ($($name:ident),+) => {
            $(impl Event for $name {
                const EVENT_TYPE: &'static str = concat!("catalog.", stringify!($name));
                const TOPIC: &'static str = CATALOG_EVENTS;
            })+
        };
    }

    catalog_event!(
        ModelPublished,
        VariantPriceChanged,
        VariantRemoved,
        ModelRetired,
        QuestionnaireReplaced
    );
}
