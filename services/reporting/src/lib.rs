//! Reporting: the admins' read model of the business, projected from the other services'
//! events (quotes, orders, jobs, partners' answers) into a database of its own, so that
//! "how are we doing" never queries, locks or slows a service that takes orders.
//!
//! - `domain/`: pure. What each event does to an order's report row, when a pickup is due,
//!   the range a report covers, and the figures' shapes and ratios.
//! - `store/`: the projection's tables (`entities.rs`), the consumer's writes, and the
//!   reports as aggregate queries; only records go in and out.
//! - `consumers.rs`: the handlers of `quote.events`, `order.events`, `fulfilment.events`
//!   and `partner.events`, each applied once, in order per key, in the consumer's
//!   transaction.
//! - `routes/`: `/v1/admin/reports/*` as JSON and CSV, for admins only.
//! - `metrics.rs`: the time orders stay in each status, as a histogram read from the
//!   projection on every instance.
//! - `startup.rs`: the consumer group is named after the projection's generation (kept in
//!   its own database), so a projection dropped and started again reads every topic from
//!   the beginning: that is the rebuild.

pub mod configuration;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod migrations;
pub mod routes;
pub mod startup;
pub mod store;
