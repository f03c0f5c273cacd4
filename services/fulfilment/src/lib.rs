//! The fulfilment service: turns a confirmed order into the jobs that move the device
//! (pickup, inspection, return), decides which partner does each, and follows the partners'
//! reports until the device is paid for or back with the shopper.

pub mod configuration;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod migrations;
pub mod quote_client;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod store;
pub mod workers;
