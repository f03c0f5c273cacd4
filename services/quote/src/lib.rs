//! The quote service: prices a device from its variant's base price, the shopper's
//! condition answers and the admins' pricing adjustments, and holds that price for one
//! order. It knows the catalog from a local read model fed by `catalog.events`, asks the
//! catalog over HTTP only when that misses, and publishes `quote.events`.

pub mod catalog_client;
pub mod clock;
pub mod configuration;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod migrations;
pub mod published;
pub mod quoting;
pub mod routes;
pub mod startup;
pub mod store;
