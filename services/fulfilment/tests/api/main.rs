//! One integration test binary for fulfilment: each test starts the real service on a free
//! port against a fresh database, real Redis and a broker over TCP, speaks for the order
//! service and the portal by producing their events, and reads what fulfilment publishes.
//! Quote is down unless a test stands in for it (`requote.rs`, a stub answering what the test
//! says); re-pricing against the real quote is covered in `system-tests`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod assignment;
mod bad_input;
mod helpers;
mod openapi;
mod reports;
mod requote;
