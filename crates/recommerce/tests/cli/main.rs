//! The `recommerce` binary as operators and orchestrators meet it: real processes, real
//! signals, real PostgreSQL, Redis and a Kafka-protocol broker over TCP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod broker;
mod dev;
mod edge;
mod helpers;
mod load;
mod operator;
mod shutdown;
