//! HTTP contracts between the services, consumer-driven, with the Pact files in the
//! repository (`contract-tests/pacts/`), no Pact broker.
//!
//! - [`consumers`]: each consumer's real client runs against a Pact mock server; the pact it
//!   writes must equal the committed one (`UPDATE_PACTS=1` refreshes it).
//! - [`providers`]: each provider's real app, on a random port with its own database,
//!   answers every interaction of the committed pacts, its provider states set up in-process.
//! - [`event_consumers`]: each consumer's real handlers fed the messages of its message pact
//!   (the events as JSON, [`event_json`]); the pact must equal the committed one.
//! - [`event_producers`]: each producer's real publish code makes every message of the
//!   committed message pacts, matched with Pact's own matching.
//! - [`worlds`]: fulfilment, the portal and order brought to a point of their life through
//!   their own stores and handlers, for both sides of the message pacts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod consumers;
mod event_consumers;
mod event_json;
mod event_producers;
mod providers;
mod support;
mod worlds;
