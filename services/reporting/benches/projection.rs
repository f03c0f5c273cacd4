//! `make bench-reporting`: how far the reports trail the events. A burst of 1000 trade-ins
//! (a quote issued, an order placed and confirmed: 3000 events) is published as fast as the
//! broker takes it while reporting runs; the lag is the time from the last event's ack to
//! the summary counting all of them. The baseline is a bare consumer reading the same 3000
//! events in the same run, with no database at all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use events::Envelope;
use events::order::{Money, OrderConfirmed, OrderPlaced};
use events::quote::QuoteIssued;
use futures_util::StreamExt;
use platform::auth::Role;
use platform::testing::{TestBroker, spawn_service};
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use reporting::startup::Reporting;
use serde_json::Value;
use uuid::Uuid;

const ORDERS: usize = 1000;
const EVENTS: usize = ORDERS * 3;

fn burst() -> Vec<(&'static str, Envelope)> {
    let now = chrono::Utc::now();
    let mut envelopes = Vec::with_capacity(EVENTS);
    for _ in 0..ORDERS {
        let (quote, order) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
        let issued = QuoteIssued {
            quote_id: quote.clone(),
            ..QuoteIssued::default()
        };
        envelopes.push((
            events::topics::QUOTE_EVENTS,
            Envelope::wrap_at(&issued, &quote, 1, "quote", "", now),
        ));
        let placed = OrderPlaced {
            order_id: order.clone(),
            quote_id: quote,
            ..OrderPlaced::default()
        };
        envelopes.push((
            events::topics::ORDER_EVENTS,
            Envelope::wrap_at(&placed, &order, 1, "order", "", now),
        ));
        let confirmed = OrderConfirmed {
            order_id: order.clone(),
            quoted_price: Some(Money {
                amount_minor: 50_000,
                currency: "INR".into(),
            }),
            ..OrderConfirmed::default()
        };
        envelopes.push((
            events::topics::ORDER_EVENTS,
            Envelope::wrap_at(&confirmed, &order, 2, "order", "", now),
        ));
    }
    envelopes
}

/// Seconds a plain consumer takes to read `EVENTS` messages of the two topics from the start.
async fn bare_read(broker: &TestBroker) -> f64 {
    let group = format!("bench-bare-{}", Uuid::now_v7().simple());
    let consumer: StreamConsumer = broker
        .settings()
        .consumer_config(&group, &group)
        .create()
        .unwrap();
    consumer
        .subscribe(&[events::topics::QUOTE_EVENTS, events::topics::ORDER_EVENTS])
        .unwrap();
    let started = Instant::now();
    let mut read = 0;
    while read < EVENTS {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("the bare consumer reads the burst")
            .unwrap();
        if message.payload().is_some() {
            read += 1;
        }
    }
    started.elapsed().as_secs_f64()
}

fn counted(summary: &Value) -> (i64, i64, i64) {
    let confirmed = summary["orders_by_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|count| count["status"] == "confirmed")
        .map_or(0, |count| count["orders"].as_i64().unwrap());
    (
        summary["quotes_issued"].as_i64().unwrap(),
        summary["orders_placed"].as_i64().unwrap(),
        confirmed,
    )
}

#[tokio::main]
async fn main() {
    let broker = TestBroker::start();
    broker.create_topics(&events::topics::ALL, 3).await;
    let database_url = platform::testing::fresh_database("bench_reporting").await;
    let layers = platform::testing::test_layers(&Reporting, &database_url)
        .set("redis.url", platform::testing::shared_redis_url())
        .unwrap()
        .set("kafka.brokers", broker.brokers.clone())
        .unwrap();
    let service = spawn_service(&Reporting, &layers).await;
    let token = service.token_for("bench-admin", Role::Admin);
    let summary_url = service.url("/v1/admin/reports/summary");
    let summary = || {
        let request = service.client.get(&summary_url).bearer_auth(&token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(counted(&summary().await), (0, 0, 0));

    let envelopes = burst();
    let started = Instant::now();
    futures_util::stream::iter(envelopes)
        .map(|(topic, envelope)| broker.send(topic, envelope, None))
        .buffer_unordered(500)
        .collect::<Vec<_>>()
        .await;
    let published = started.elapsed();
    let expected = (ORDERS as i64, ORDERS as i64, ORDERS as i64);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if counted(&summary().await) == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the projection did not catch up in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caught_up = started.elapsed();
    let lag = caught_up - published;
    let bare = bare_read(&broker).await;
    service.stop().await;

    let projected_rate = EVENTS as f64 / caught_up.as_secs_f64();
    let bare_rate = EVENTS as f64 / bare;
    let broker_kind = if broker.embedded().is_some() {
        "embedded librdkafka broker"
    } else {
        "KAFKA_BROKERS"
    };
    println!("## Reporting projection\n");
    println!("Command: `make bench-reporting` (`cargo bench -p reporting --bench projection`).\n");
    println!(
        "- date: {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("- machine: {}", platform::testing::machine_description());
    println!(
        "- setup: one reporting instance on the test suites' settings, PostgreSQL, Redis sequencer, {broker_kind} with 3 partitions per topic, all on the same machine\n"
    );
    println!(
        "A burst of {ORDERS} trade-ins ({EVENTS} events: a quote issued, an order placed and confirmed) published in {:.2} s while reporting runs.\n",
        published.as_secs_f64()
    );
    println!("| measure | value | baseline (same run) | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| lag after the burst: last event acked → the summary counts all {ORDERS} orders | {:.2} s | — | — |",
        lag.as_secs_f64()
    );
    println!(
        "| events projected/s, burst start → caught up | {projected_rate:.0} | bare consumer reading the same events: {bare_rate:.0} | {:.2}× |",
        projected_rate / bare_rate
    );
}
