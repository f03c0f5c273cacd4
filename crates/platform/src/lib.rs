//! Everything every recommerce service needs and no service should write twice: layered
//! configuration, telemetry, problem+json errors, JWT auth, health and metrics, the database
//! and Redis connections, the HTTP server shell that wires them together, and the event
//! backbone behind DESIGN.md's guarantees (outbox, consumer runtime, per-key sequencer).

pub mod admission;
pub mod auth;
pub mod background;
pub mod config;
pub mod consumer;
pub mod db;
pub mod due_work;
pub mod error;
pub mod event_tables;
pub mod health;
pub mod http;
pub mod kafka;
#[cfg(feature = "testing")]
pub mod list_probe;
pub mod named_enum;
pub mod outbox;
pub mod pagination;
pub mod problem_code;
pub mod redis;
pub mod request_shape;
pub mod retry;
pub mod schema;
pub mod sequencer;
pub mod service;
pub mod service_client;
pub mod startup;
pub mod store_page;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validation;
pub mod values;
pub mod worker_client;
pub mod write_conflict;

pub use error::{ApiError, ErrorKind, ProblemCode};
