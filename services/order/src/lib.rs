//! The order service: accepts a shopper's order durably and once, whatever else is down,
//! then moves it through the trade-in lifecycle one step at a time per order.

pub mod configuration;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod migrations;
pub mod payout;
pub mod published;
pub mod quote_client;
pub mod routes;
pub mod startup;
pub mod store;
pub mod workers;
