//! HTTP contracts between the services, consumer-driven, with the Pact files in the
//! repository (`contract-tests/pacts/`), no Pact broker.
//!
//! - [`consumers`]: each consumer's real client runs against a Pact mock server; the pact it
//!   writes must equal the committed one (`UPDATE_PACTS=1` refreshes it).
//! - [`providers`]: each provider's real app, on a random port with its own database,
//!   answers every interaction of the committed pacts, its provider states set up in-process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod consumers;
mod providers;
mod support;
