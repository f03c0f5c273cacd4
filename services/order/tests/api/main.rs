//! One integration test binary for the order service: every test starts the real service on
//! a free port against a real database (a fresh PostgreSQL database per test, or a fresh
//! SQLite file with `TEST_DATABASE=sqlite`) and real Redis, and talks to it over HTTP.
//! Scenarios that need quote and catalog running too live in `tests/system`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accept;
mod bad_input;
mod coordinator;
mod helpers;
mod idempotency;
mod openapi;
mod parked_events;
mod processing;
mod reads;
mod shutdown;
