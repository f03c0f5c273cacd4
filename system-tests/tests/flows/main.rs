//! Cross-service scenarios: the services running together on one broker and one
//! Redis, each on its own database, driven through their public APIs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod isolation;
mod lifecycle;
mod outage;
mod partner_reports;
mod quote_locking;
mod revocation;
mod sequencing;
mod traces;
mod trade_in;
mod two_instances;
