//! One integration test binary for fulfilment: each test starts the real service on a free
//! port against a fresh database, real Redis and a broker over TCP, speaks for the order
//! service and the portal by producing their events, and reads what fulfilment publishes.
//! Re-pricing against a running quote is covered in `system-tests`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod assignment;
mod bad_input;
mod helpers;
mod reports;
