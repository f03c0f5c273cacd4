//! `make bench-backbone`: the event backbone on PostgreSQL, Redis and the embedded broker
//! (or `KAFKA_BROKERS`), each figure next to a baseline measured in the same run:
//!
//! - outbox relay throughput ÷ the bare idempotent producer's throughput;
//! - commit → handled latency (p50/p99) at a steady 100 events/s through relay and consumer;
//! - `run_in_sequence` per second ÷ bare Redis `SET NX PX` + `DEL` per second.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use events::{Envelope, Event};
use futures_util::StreamExt;
use platform::consumer::{
    ConsumerRuntime, ConsumerSettings, Handle, HandlerError, Handlers, IncomingEvent,
};
use platform::outbox::{OutboxRelay, RelaySettings, publish};
use platform::sequencer::{RedisSequencer, Sequencer, run_in_sequence};
use platform::testing::{TestBroker, fresh_database, shared_redis_url};
use prost::Message as _;
use rdkafka::producer::FutureRecord;
use sea_orm::{DatabaseConnection, TransactionTrait};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use tokio_util::sync::CancellationToken;

const TOPIC: &str = "bench.events";
/// Its own topic, so the latency run's consumer does not first wade through the backlog
/// the throughput runs left on `TOPIC`.
const LATENCY_TOPIC: &str = "bench.latency";
const RELAY_EVENTS: usize = 20_000;
const RATE_PER_SECOND: u64 = 100;
const LATENCY_SECONDS: u64 = 10;
const SEQUENCER_OPS: usize = 50_000;
const CONCURRENCY: usize = 16;

#[derive(Clone, PartialEq, prost::Message)]
struct Tick {
    #[prost(uint64, tag = "1")]
    n: u64,
}

impl Event for Tick {
    const EVENT_TYPE: &'static str = "bench.Tick";
    const TOPIC: &'static str = TOPIC;
}

#[derive(Clone, PartialEq, prost::Message)]
struct LatencyTick {
    #[prost(uint64, tag = "1")]
    n: u64,
}

impl Event for LatencyTick {
    const EVENT_TYPE: &'static str = "bench.LatencyTick";
    const TOPIC: &'static str = LATENCY_TOPIC;
}

struct Migrator;

#[async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(platform::event_tables::Migration),
            Box::new(platform::event_tables::ParkOutboxRows),
            Box::new(platform::event_tables::HoldEarlyEvents),
        ]
    }
}

async fn database() -> DatabaseConnection {
    let db = sea_orm::Database::connect(&fresh_database("bench").await)
        .await
        .unwrap();
    platform::db::migrate::<Migrator>(&db).await.unwrap();
    db
}

struct Latencies(Arc<Mutex<Vec<Duration>>>);

#[async_trait]
impl Handle<LatencyTick> for Latencies {
    async fn handle(
        &self,
        _txn: &sea_orm::DatabaseTransaction,
        _event: LatencyTick,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        if let Some(at) = incoming.envelope.occurred_at() {
            let elapsed = (chrono::Utc::now() - at).to_std().unwrap_or_default();
            self.0.lock().unwrap().push(elapsed);
        }
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted
        .get(index)
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

async fn bare_producer_rate(broker: &TestBroker) -> f64 {
    let producer = broker
        .settings()
        .producer("bench-bare")
        .unwrap()
        .into_inner();
    let payload = Envelope::wrap(&Tick { n: 0 }, "k", 0, "bench", "").encode_to_vec();
    // Connection and metadata set-up are not part of the rate.
    producer
        .send(
            FutureRecord::to(TOPIC).key("warm").payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let started = Instant::now();
    futures_util::stream::iter(0..RELAY_EVENTS)
        .map(|n| {
            let producer = producer.clone();
            let payload = payload.clone();
            async move {
                let key = format!("k{}", n % 100);
                producer
                    .send(
                        FutureRecord::to(TOPIC).key(&key).payload(&payload),
                        Duration::from_secs(5),
                    )
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(500)
        .collect::<Vec<_>>()
        .await;
    RELAY_EVENTS as f64 / started.elapsed().as_secs_f64()
}

async fn relay_rate(broker: &TestBroker) -> f64 {
    let db = database().await;
    let relay = OutboxRelay::new(
        db.clone(),
        &broker.settings(),
        "bench-relay",
        RelaySettings::default(),
        &prometheus::Registry::new(),
    )
    .unwrap();
    // Connection and metadata set-up are not part of the rate: relay one row first.
    publish(&db, "bench", "warm", 0, &Tick { n: 0 })
        .await
        .unwrap();
    relay.relay_batch().await.unwrap();
    for chunk in 0..(RELAY_EVENTS / 500) {
        let txn = db.begin().await.unwrap();
        for n in 0..500 {
            let n = (chunk * 500 + n) as u64;
            publish(&txn, "bench", &format!("k{}", n % 100), 0, &Tick { n })
                .await
                .unwrap();
        }
        txn.commit().await.unwrap();
    }
    let started = Instant::now();
    let mut sent = 0;
    while sent < RELAY_EVENTS {
        sent += relay.relay_batch().await.unwrap();
    }
    RELAY_EVENTS as f64 / started.elapsed().as_secs_f64()
}

async fn latency(broker: &TestBroker) -> (f64, f64, usize) {
    let db = database().await;
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let sequencer: Arc<dyn Sequencer> = Arc::new(
        RedisSequencer::new(
            &shared_redis_url(),
            &format!("bench-{}", uuid::Uuid::new_v4().simple()),
            Duration::from_secs(5),
        )
        .unwrap(),
    );
    let consumer = ConsumerRuntime::new(
        &broker.settings(),
        &format!("bench-{}", uuid::Uuid::new_v4().simple()),
        &[LATENCY_TOPIC],
        db.clone(),
        Handlers::new().on::<LatencyTick, _>(Latencies(latencies.clone())),
        sequencer,
        &prometheus::Registry::new(),
    )
    .with_settings(ConsumerSettings::default())
    .start()
    .unwrap();
    let relay = OutboxRelay::new(
        db.clone(),
        &broker.settings(),
        "bench-latency",
        // As services run it: woken by each commit, polling only as a fallback.
        RelaySettings::default(),
        &prometheus::Registry::new(),
    )
    .unwrap();
    let stop = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(stop.clone()));
    // Let the consumer join its group before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    latencies.lock().unwrap().clear();

    let total = (RATE_PER_SECOND * LATENCY_SECONDS) as usize;
    let mut interval = tokio::time::interval(Duration::from_millis(1000 / RATE_PER_SECOND));
    for n in 0..total as u64 {
        interval.tick().await;
        let key = format!("order-{}", n % 50);
        let seq = n / 50 + 1;
        publish(&db, "bench-latency", &key, seq, &LatencyTick { n })
            .await
            .unwrap();
        // What the HTTP shell, the consumer and the due-work runner do after a commit.
        platform::outbox::committed();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while latencies.lock().unwrap().len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    relaying.await.unwrap();
    consumer.shutdown(Duration::from_secs(5)).await;
    let mut sorted = latencies.lock().unwrap().clone();
    sorted.sort();
    (
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.99),
        sorted.len(),
    )
}

async fn sequencer_rates() -> (f64, f64) {
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let sequencer = Arc::new(
        RedisSequencer::new(&shared_redis_url(), &prefix, Duration::from_secs(5)).unwrap(),
    );
    // Warm the connection.
    run_in_sequence(sequencer.as_ref(), "warm", |_| async {})
        .await
        .unwrap();
    let started = Instant::now();
    futures_util::stream::iter(0..SEQUENCER_OPS)
        .map(|n| {
            let sequencer = sequencer.clone();
            async move {
                run_in_sequence(sequencer.as_ref(), &format!("key-{}", n % 200), |_| async {
                })
                .await
                .unwrap();
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let sequenced = SEQUENCER_OPS as f64 / started.elapsed().as_secs_f64();

    let connection = redis::Client::open(shared_redis_url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    let started = Instant::now();
    futures_util::stream::iter(0..SEQUENCER_OPS)
        .map(|n| {
            let mut connection = connection.clone();
            let key = format!("{prefix}:bare:{}", n % 200);
            async move {
                loop {
                    let taken: Option<String> = redis::cmd("SET")
                        .arg(&key)
                        .arg("1")
                        .arg("NX")
                        .arg("PX")
                        .arg(5000)
                        .query_async(&mut connection)
                        .await
                        .unwrap();
                    if taken.is_some() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                let _: i64 = redis::cmd("DEL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let bare = SEQUENCER_OPS as f64 / started.elapsed().as_secs_f64();
    (sequenced, bare)
}

#[tokio::main]
async fn main() {
    // `BACKBONE_BENCH_SEQUENCER_ONLY=1`: only the sequencer's rates, to profile them.
    if std::env::var_os("BACKBONE_BENCH_SEQUENCER_ONLY").is_some() {
        let (sequenced, bare_lock) = sequencer_rates().await;
        eprintln!(
            "run_in_sequence {sequenced:.0}/s, bare lock {bare_lock:.0}/s: {:.2}×",
            sequenced / bare_lock
        );
        return;
    }
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC, LATENCY_TOPIC], 6).await;
    let bare = bare_producer_rate(&broker).await;
    let relay = relay_rate(&broker).await;
    let (p50, p99, handled) = latency(&broker).await;
    let (sequenced, bare_lock) = sequencer_rates().await;
    let broker_kind = if broker.embedded().is_some() {
        "embedded librdkafka broker"
    } else {
        "KAFKA_BROKERS"
    };

    println!("## Event backbone\n");
    println!("Command: `make bench-backbone` (`cargo bench -p platform --bench backbone`).\n");
    println!(
        "- date: {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("- machine: {}", platform::testing::machine_description());
    println!(
        "- setup: PostgreSQL outbox, Redis sequencer, {broker_kind} on loopback, all on the same machine\n"
    );
    println!("| measure | value | baseline (same run) | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| outbox relay, events/s ({RELAY_EVENTS} events, batches of 500) | {relay:.0} | bare idempotent producer: {bare:.0} | {:.2}× |",
        relay / bare
    );
    println!(
        "| `run_in_sequence`/s ({SEQUENCER_OPS} runs, 200 keys, {CONCURRENCY} concurrent) | {sequenced:.0} | bare `SET NX PX` + `DEL`: {bare_lock:.0} | {:.2}× |",
        sequenced / bare_lock
    );
    println!(
        "\nCommit → handled latency at {RATE_PER_SECOND} events/s for {LATENCY_SECONDS} s (outbox → relay → broker → consumer → sequencer → handler): p50 {p50:.1} ms, p99 {p99:.1} ms ({handled} events handled)."
    );
}
