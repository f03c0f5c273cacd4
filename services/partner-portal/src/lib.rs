//! The partner portal: where logistics and repair partners see the jobs fulfilment gave
//! them and report progress, and from where their webhooks are called. A report is the
//! partner's to make at any time, so it needs nothing but the portal's own database.
//!
//! - `domain/`: the records and the rules about them, pure and unit-tested. `mod.rs`: job
//!   statuses, kinds and actions, and how fulfilment's word and the partner's reports combine
//!   (`apply_fulfilment`); `job.rs`: a [`PortalJob`](domain::PortalJob), its history entries
//!   and what a report or one of fulfilment's changes does to it; `user.rs`: a
//!   [`PortalUser`](domain::PortalUser); `webhook.rs`: a [`Webhook`](domain::Webhook), its
//!   [`Delivery`](domain::Delivery)s and their [`Attempt`](domain::Attempt)s, what an
//!   attempt leaves a delivery in, signatures and the SSRF policy.
//! - `store/`: persistence. Its tables (`entities.rs`) are seen by nothing but the store
//!   and the migrations; `records.rs` turns rows into records and back (a row that does not
//!   read back is a `StoreError::Corrupt`), and only records go in and out. A change to a
//!   job is written with its history, its events and its webhook deliveries.
//! - `routes/`: the state, route table and shared helpers (`mod.rs`), the JSON shapes
//!   (`dto.rs`), and the handlers of `jobs.rs`, `webhooks.rs` and `admin.rs`.
//! - `consumers.rs` (`fulfilment.events` into the job read model) and `workers.rs` (the
//!   webhook deliverer) work through the store's records, like the routes.
//! - `published.rs`: the `partner.events` a report publishes.

pub mod configuration;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod migrations;
pub mod published;
pub mod revocations;
pub mod routes;
pub mod startup;
pub mod store;
pub mod workers;
