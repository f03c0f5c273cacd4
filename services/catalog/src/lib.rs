//! The catalog service: which devices recommerce buys, in which variants, at which base
//! price, and the condition questions that adjust that price. Every other service reads it;
//! only admins write it.

pub mod cache;
pub mod configuration;
pub mod domain;
pub mod error;
pub mod migrations;
pub mod published;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod store;
