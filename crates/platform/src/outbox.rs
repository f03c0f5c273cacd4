//! The transactional outbox: how an event leaves a service without ever being lost or
//! published for a change that rolled back. `publish` writes the event into the caller's
//! open transaction; the relay later sends unsent rows with the idempotent producer and
//! marks them sent. A broker outage only grows the backlog; the relay keeps retrying with
//! backoff and never drops a row.
//!
//! Several relays may run against one PostgreSQL database: each claims a batch with
//! `FOR UPDATE SKIP LOCKED`. Two relays can then send two events of one aggregate in either
//! order; consumers restore the order from `aggregate_seq`. SQLite runs one relay.

pub mod parked;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::Utc;
use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use prost::Message;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use sea_orm::sea_query::{Expr, InsertStatement, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, TransactionTrait,
};
use serde::Deserialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::background::RequestLoad;
use crate::event_tables::outbox;
use crate::kafka::{KafkaSettings, OffRuntime};

/// Kafka header names every published event carries.
pub mod headers {
    pub const EVENT_ID: &str = "event-id";
    pub const EVENT_TYPE: &str = "event-type";
    pub const TRACEPARENT: &str = "traceparent";
    pub const PRODUCER: &str = "producer";
}

/// Writes `event` to the outbox inside `db`, which should be the transaction that makes the
/// state change the event describes. Returns the event id.
pub async fn publish<C, E>(
    db: &C,
    producer: &str,
    aggregate_id: &str,
    aggregate_seq: u64,
    event: &E,
) -> Result<Uuid, DbErr>
where
    C: ConnectionTrait,
    E: events::Event,
{
    let (event_id, insert) = row(producer, aggregate_id, aggregate_seq, event)?;
    db.execute_raw(db.get_database_backend().build(&insert))
        .await?;
    Ok(event_id)
}

/// The outbox row [`publish`] writes, for writing together with the state change in one
/// [`crate::db::Writes`]. Returns the event id with it.
pub fn row<E: events::Event>(
    producer: &str,
    aggregate_id: &str,
    aggregate_seq: u64,
    event: &E,
) -> Result<(Uuid, InsertStatement), DbErr> {
    let traceparent = crate::telemetry::current_traceparent();
    let envelope = events::Envelope::wrap(
        event,
        aggregate_id,
        aggregate_seq,
        producer,
        traceparent.clone(),
    );
    let event_id =
        Uuid::parse_str(&envelope.event_id).map_err(|error| DbErr::Custom(error.to_string()))?;
    let insert = outbox::Entity::insert(outbox::ActiveModel {
        event_id: Set(event_id),
        topic: Set(E::TOPIC.to_owned()),
        aggregate_id: Set(aggregate_id.to_owned()),
        event_type: Set(E::EVENT_TYPE.to_owned()),
        payload: Set(envelope.encode_to_vec()),
        traceparent: Set(traceparent),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .into_query();
    Ok((event_id, insert))
}

/// Commits that may have written to the outbox, counted for the whole process. Every relay
/// in the process watches the count: a commit wakes it at once instead of at its next poll.
static COMMITS: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Tells this process's relays that a transaction which may have written to the outbox has
/// committed. The shell calls it after every request that may write, the consumer after
/// every applied event and the due-work runner after every run; a relay that finds nothing
/// goes back to waiting, so a call too many costs one query.
pub fn committed() {
    COMMITS.send_modify(|count| *count = count.wrapping_add(1));
}

/// The shortest time between two relay rounds: what a woken relay may add to an event's
/// way out, and what keeps a busy database from committing one relay round per order.
const MIN_ROUND_GAP: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RelaySettings {
    /// Rows claimed and sent per round.
    pub batch_size: u64,
    /// Pause between rounds when the outbox is empty, unless a commit wakes the relay
    /// first ([`committed`]): the fallback for writes made outside the shell, the consumer
    /// and the due-work runner (and by other processes on the same database).
    pub poll_interval_ms: u64,
    /// Sent rows are deleted after this long.
    pub retention_hours: u64,
    /// Upper bound of the backoff between failed rounds.
    pub max_backoff_ms: u64,
    /// On stop, how long the batch in flight may wait for the broker's acknowledgement.
    pub stop_flush_ms: u64,
    /// Rounds in which the broker took other events but refused this one, before the row
    /// is parked (skipped until an admin retries it). A refusal that can never succeed (too
    /// large, an invalid topic) parks it at once. Rounds with the broker down count for none.
    pub max_attempts: u32,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval_ms: 250,
            retention_hours: 72,
            max_backoff_ms: 5_000,
            stop_flush_ms: 2_000,
            max_attempts: 10,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("broker: {0}")]
    Broker(#[from] rdkafka::error::KafkaError),
    #[error("{failed} of {total} events were not acknowledged by the broker")]
    Undelivered { failed: usize, total: usize },
}

#[derive(Clone)]
struct RelayMetrics {
    backlog: IntGauge,
    oldest_unsent_age: Gauge,
    publish_latency: Histogram,
    /// By event type: the business counts (quotes issued, orders placed, each transition)
    /// as committed, since an event leaves only once its change committed.
    published: IntCounterVec,
    failed_rounds: IntCounter,
    parked: IntGauge,
}

impl RelayMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            backlog: IntGauge::new("outbox_backlog", "Events in the outbox not yet sent")?,
            oldest_unsent_age: Gauge::new(
                "outbox_oldest_unsent_age_seconds",
                "Age of the oldest unsent outbox event",
            )?,
            publish_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "outbox_publish_latency_seconds",
                    "From the event's commit to the broker's acknowledgement",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0,
                ]),
            )?,
            published: IntCounterVec::new(
                Opts::new(
                    "outbox_published_total",
                    "Events sent by the relay, by type",
                ),
                &["event_type"],
            )?,
            failed_rounds: IntCounter::new(
                "outbox_failed_rounds_total",
                "Relay rounds that could not send everything (broker or database trouble)",
            )?,
            parked: IntGauge::new(
                "outbox_parked",
                "Events the broker would not take, parked until an admin retries them",
            )?,
        };
        registry.register(Box::new(metrics.backlog.clone()))?;
        registry.register(Box::new(metrics.oldest_unsent_age.clone()))?;
        registry.register(Box::new(metrics.publish_latency.clone()))?;
        registry.register(Box::new(metrics.published.clone()))?;
        registry.register(Box::new(metrics.failed_rounds.clone()))?;
        registry.register(Box::new(metrics.parked.clone()))?;
        Ok(metrics)
    }
}

pub struct OutboxRelay {
    db: DatabaseConnection,
    kafka: KafkaSettings,
    client_id: String,
    producer: OffRuntime<FutureProducer>,
    settings: RelaySettings,
    metrics: RelayMetrics,
    requests: RequestLoad,
}

impl OutboxRelay {
    pub fn new(
        db: DatabaseConnection,
        kafka: &KafkaSettings,
        client_id: &str,
        settings: RelaySettings,
        registry: &Registry,
    ) -> Result<Self, RelayBuildError> {
        Ok(Self {
            producer: kafka.producer(client_id)?,
            db,
            kafka: kafka.clone(),
            client_id: client_id.to_owned(),
            settings,
            metrics: RelayMetrics::new(registry)?,
            requests: RequestLoad::never_yield(),
        })
    }

    /// Each round waits for a busy service's requests first (see [`RequestLoad`]).
    pub fn giving_way_to(mut self, requests: RequestLoad) -> Self {
        self.requests = requests;
        self
    }

    /// Relays until `shutdown`. The batch in flight when it fires gets
    /// [`RelaySettings::stop_flush_ms`] to be acknowledged; what is not stays unsent and
    /// goes out with the next relay (consumers drop the duplicates by event id).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = crate::retry::Backoff::up_to(Duration::from_millis(
            self.settings.max_backoff_ms.max(100),
        ));
        let mut last_housekeeping = Instant::now() - Duration::from_secs(3600);
        let stop_flush = Duration::from_millis(self.settings.stop_flush_ms);
        let mut commits = COMMITS.subscribe();
        let mut last_round = Instant::now() - MIN_ROUND_GAP;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            // Rounds at most every MIN_ROUND_GAP: under load, commits arriving meanwhile share
            // one round (one claim, one send, one commit) instead of a round each.
            let since_last = last_round.elapsed();
            if since_last < MIN_ROUND_GAP {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(MIN_ROUND_GAP - since_last) => {}
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.requests.give_way() => {}
            }
            last_round = Instant::now();
            // Seen before the round reads: a commit after this point wakes the wait below.
            commits.borrow_and_update();
            if last_housekeeping.elapsed() >= Duration::from_secs(1) {
                last_housekeeping = Instant::now();
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    result = self.housekeeping() => if let Err(error) = result {
                        tracing::warn!(%error, "outbox housekeeping failed");
                    }
                }
            }
            let round = tokio::select! {
                round = self.relay_batch() => round,
                () = async {
                    shutdown.cancelled().await;
                    tokio::time::sleep(stop_flush).await;
                } => {
                    tracing::warn!("the batch in flight was not acknowledged in time; it stays in the outbox");
                    break;
                }
            };
            let pause = match round {
                Ok(0) => {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        _ = commits.changed() => {}
                        () = tokio::time::sleep(Duration::from_millis(self.settings.poll_interval_ms)) => {}
                    }
                    Duration::ZERO
                }
                Ok(_) => {
                    backoff.reset();
                    Duration::ZERO
                }
                Err(error) => {
                    self.metrics.failed_rounds.inc();
                    let pause = backoff.next_delay();
                    tracing::warn!(%error, retry_in = ?pause, "outbox relay round failed");
                    self.recreate_producer_if_fatal();
                    pause
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
        // Every round waits for its deliveries, so nothing is left to flush: the producer
        // only has to go, on a thread of its own (OffRuntime).
    }

    /// Claims up to one batch of unsent rows, sends them and marks the acknowledged ones
    /// sent. Returns how many were sent.
    pub async fn relay_batch(&self) -> Result<usize, RelayError> {
        let query = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::ParkedAt.is_null())
            .order_by_asc(outbox::Column::Id)
            .limit(self.settings.batch_size);
        if self.db.get_database_backend() != DbBackend::Postgres {
            // One relay per SQLite file: no claim needed, and no read transaction held
            // across the send for a writer's commit to invalidate (SQLITE_BUSY).
            let rows = query.all(&self.db).await?;
            return self.send_and_mark(&self.db, rows).await;
        }
        let txn = self.db.begin().await?;
        let rows = query
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        let sent = self.send_and_mark(&txn, rows).await;
        txn.commit().await?;
        sent
    }

    /// Sends `rows` and marks the acknowledged ones sent, through `db`.
    async fn send_and_mark<C: ConnectionTrait>(
        &self,
        db: &C,
        rows: Vec<outbox::Model>,
    ) -> Result<usize, RelayError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let deliveries = rows.iter().map(|row| {
            let event_id = row.event_id.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: headers::EVENT_ID,
                    value: Some(event_id.as_str()),
                })
                .insert(Header {
                    key: headers::EVENT_TYPE,
                    value: Some(row.event_type.as_str()),
                })
                .insert(Header {
                    key: headers::TRACEPARENT,
                    value: Some(row.traceparent.as_str()),
                })
                .insert(Header {
                    key: headers::PRODUCER,
                    value: Some(self.client_id.as_str()),
                });
            let record = FutureRecord::to(&row.topic)
                .key(row.aggregate_id.as_str())
                .payload(row.payload.as_slice())
                .headers(headers);
            self.producer.send(record, Duration::from_secs(5))
        });
        let results = futures_util::future::join_all(deliveries).await;
        let now = Utc::now();
        let mut sent = Vec::with_capacity(rows.len());
        let mut sent_types: HashMap<&str, u64> = HashMap::new();
        let mut refused = Vec::new();
        for (row, result) in rows.iter().zip(&results) {
            match result {
                Ok(_) => {
                    sent.push(row.id);
                    *sent_types.entry(row.event_type.as_str()).or_default() += 1;
                    let age = (now - row.created_at).num_milliseconds().max(0) as f64 / 1000.0;
                    self.metrics.publish_latency.observe(age);
                }
                Err((error, _)) => {
                    tracing::debug!(%error, event_id = %row.event_id, "not delivered");
                    refused.push((row, error));
                }
            }
        }
        if !sent.is_empty() {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::SentAt, Expr::value(now))
                .filter(outbox::Column::Id.is_in(sent.clone()))
                .exec(db)
                .await?;
        }
        for (event_type, count) in sent_types {
            self.metrics
                .published
                .with_label_values(&[event_type])
                .inc_by(count);
        }
        // The broker answered for the others, so these were refused for themselves: count
        // it against them. With nothing sent the broker is most likely down: count nothing.
        let mut parked = 0;
        for (row, error) in &refused {
            let permanent = never_sendable(error);
            if !permanent && sent.is_empty() {
                continue;
            }
            let attempts = row.attempts.saturating_add(1);
            let park = permanent
                || attempts >= i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX);
            let mut update = outbox::Entity::update_many()
                .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                .col_expr(outbox::Column::LastError, Expr::value(error.to_string()))
                .filter(outbox::Column::Id.eq(row.id));
            if park {
                update = update.col_expr(outbox::Column::ParkedAt, Expr::value(now));
                parked += 1;
                tracing::error!(
                    %error,
                    event_id = %row.event_id,
                    event_type = %row.event_type,
                    aggregate_id = %row.aggregate_id,
                    attempts,
                    "the broker will not take this event; parked for an admin, the rest go on"
                );
            }
            update.exec(db).await?;
        }
        let failed = refused.len() - parked;
        if failed > 0 {
            return Err(RelayError::Undelivered {
                failed,
                total: rows.len(),
            });
        }
        Ok(sent.len() + parked)
    }

    async fn housekeeping(&self) -> Result<(), DbErr> {
        let parked = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::ParkedAt.is_not_null())
            .count(&self.db)
            .await?;
        self.metrics
            .parked
            .set(i64::try_from(parked).unwrap_or(i64::MAX));
        let unsent = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::ParkedAt.is_null());
        self.metrics
            .backlog
            .set(unsent.clone().count(&self.db).await? as i64);
        let oldest = unsent
            .order_by_asc(outbox::Column::Id)
            .one(&self.db)
            .await?
            .map(|row| (Utc::now() - row.created_at).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        self.metrics.oldest_unsent_age.set(oldest);
        let cutoff = Utc::now() - chrono::Duration::hours(self.settings.retention_hours as i64);
        self.delete_sent_before(cutoff).await?;
        Ok(())
    }

    /// Deletes rows sent before `cutoff`; returns how many.
    pub async fn delete_sent_before(&self, cutoff: chrono::DateTime<Utc>) -> Result<u64, DbErr> {
        let result = outbox::Entity::delete_many()
            .filter(outbox::Column::SentAt.lt(cutoff))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// An idempotent producer that hit a fatal error (e.g. after long outages) refuses all
    /// further sends; a fresh one starts a new producer epoch.
    fn recreate_producer_if_fatal(&mut self) {
        if let Some((code, reason)) = self.producer.client().fatal_error() {
            tracing::warn!(?code, %reason, "the producer failed fatally; creating a new one");
            match self.kafka.producer(&self.client_id) {
                // The old producer is dropped on a thread of its own (OffRuntime).
                Ok(producer) => self.producer = producer,
                Err(error) => tracing::error!(%error, "creating a new producer failed"),
            }
        }
    }
}

/// Refusals that sending the same record again cannot change.
fn never_sendable(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::MessageSizeTooLarge
                | Code::InvalidMessageSize
                | Code::InvalidMessage
                | Code::InvalidRecord
                | Code::InvalidTopic
                | Code::MessageBatchTooLarge
                | Code::TopicAuthorizationFailed
        )
    )
}

#[derive(Debug, thiserror::Error)]
pub enum RelayBuildError {
    #[error("the producer could not be created: {0}")]
    Producer(#[from] rdkafka::error::KafkaError),
    #[error("relay metrics could not be registered: {0}")]
    Metrics(#[from] prometheus::Error),
}
