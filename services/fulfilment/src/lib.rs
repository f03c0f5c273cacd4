//! The fulfilment service: turns a confirmed order into the jobs that move the device
//! (pickup, inspection, return), decides which partner does each, and follows the partners'
//! reports until the device is paid for or back with the shopper.
//!
//! - `domain/`: the records (`job.rs`: a [`Job`](domain::Job) and its history entries;
//!   `partner.rs`: a [`Partner`](domain::Partner); `trade_in.rs`: what is kept of a
//!   confirmed order), what each change does to them, and which partner gets a job
//!   (`assignment.rs`). Pure, unit-tested.
//! - `store/`: persistence. Its tables (`entities.rs`) are seen by nothing but the store
//!   and the migrations; it turns rows into records and back, and writes every change with
//!   its history and its events, and only records go in and out.
//! - `routes/`: the state and route table (`mod.rs`), the JSON shapes (`dto.rs`), and the
//!   handlers of `partners.rs` and `jobs.rs`.
//! - `consumers.rs` (`order.events`, `partner.events`) and `workers.rs` (re-pricing, the
//!   reassigner) work through the store's records, like the routes.

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
