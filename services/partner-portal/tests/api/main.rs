//! One integration test binary for the partner portal: each test starts the real service
//! on a free port against a fresh database, real Redis and a broker over TCP, speaks for
//! fulfilment by producing its events, and reads what the portal publishes. There is no
//! fulfilment service in this suite at all: partners' reports must not need it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod bad_input;
mod helpers;
mod openapi;
mod read_model;
mod reports;
mod webhooks;
