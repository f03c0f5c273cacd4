//! Cross-service scenarios: catalog, quote and order running together on one broker and one
//! Redis, each on its own database, driven through their public APIs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod lifecycle;
mod outage;
mod quote_locking;
mod sequencing;
