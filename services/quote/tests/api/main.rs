//! One integration test binary for the quote service: every test starts the real service
//! on a free port against a real database (a fresh PostgreSQL database per test, or a fresh
//! SQLite file with `TEST_DATABASE=sqlite`) and talks to it over HTTP. The catalog is the
//! real catalog service, started in the same process, or catalog events produced to a real
//! (embedded) broker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod adjustments;
mod bad_input;
mod fallback;
mod health;
mod helpers;
mod lock;
mod openapi;
mod quotes;
mod read_model;
mod requote;
