//! The partner portal: where logistics and repair partners see the jobs fulfilment gave
//! them and report progress, and from where their webhooks are called. A report is the
//! partner's to make at any time, so it needs nothing but the portal's own database.

pub mod configuration;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod migrations;
pub mod published;
pub mod routes;
pub mod startup;
pub mod store;
pub mod workers;
