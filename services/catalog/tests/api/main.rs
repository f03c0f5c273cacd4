//! One integration test binary for the catalog: every test starts the real service on a
//! free port against a real database (a fresh PostgreSQL database per test, or a fresh
//! SQLite file with `TEST_DATABASE=sqlite`) and real Redis, and talks to it over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod bad_input;
mod browse;
mod health;
mod helpers;
mod openapi;
mod outbox_events;
