//! The event backbone against real PostgreSQL (or SQLite), real Redis and a Kafka-protocol
//! broker over TCP (librdkafka's embedded broker, or `KAFKA_BROKERS`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admission;
mod consumer;
mod due_work;
mod relay;
mod sequencer;
mod service_client;
mod support;
