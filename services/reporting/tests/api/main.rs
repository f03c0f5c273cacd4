//! One integration test binary for reporting: each test starts the real service on a free
//! port against a fresh database, real Redis and a broker over TCP, speaks for the other
//! services by producing their events, and reads the reports over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod dead_letters;
mod figures;
mod helpers;
mod rebuild;
