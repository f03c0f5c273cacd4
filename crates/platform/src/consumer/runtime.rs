use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};
use prost::Message as _;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::dead_letters::DeadLetterWriter;
use super::{Applied, Applier, ApplyError, HandlerError, Handlers, IncomingEvent, headers};
use crate::background::RequestLoad;
use crate::kafka::{KafkaSettings, OffRuntime, on_own_thread};
use crate::sequencer::Sequencer;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConsumerSettings {
    /// Attempts for a transiently failing event before it is dead-lettered.
    pub max_attempts: u32,
    pub max_retry_backoff_ms: u64,
    /// Upper bound of the wait between retries of a key whose downstream is down.
    pub unavailable_max_backoff_ms: u64,
    /// How often finished offsets are committed (and always on shutdown).
    pub commit_interval_ms: u64,
    /// How often held events (that came before their predecessor) are looked for whose
    /// slot has come: the path for one whose predecessor another instance applied.
    pub recheck_interval_ms: u64,
    /// How long held events wait for a missing predecessor before the gap is reported as
    /// a dead letter (they go on waiting; an admin can pass the slot).
    pub gap_timeout_ms: u64,
    /// Processed event ids are kept this long for deduplication. Sequenced events stay
    /// deduplicated by `aggregate_seq` beyond it.
    pub dedup_retention_hours: u64,
    /// Events taken from the broker and not finished yet (held ones are finished). At the bound
    /// the consumer pauses its partitions instead of buffering more; it resumes at half.
    pub max_in_flight: usize,
    /// Events applied at once (each holds a database connection while it is).
    pub max_concurrent: usize,
    /// How often every instance counts its consumer's open dead letters, the keys they hold
    /// up and the events held for a predecessor (`consumer_dead_letters_open`,
    /// `consumer_blocked_keys`, `consumer_held_events`).
    pub readings_interval_ms: u64,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_retry_backoff_ms: 2_000,
            unavailable_max_backoff_ms: 30_000,
            commit_interval_ms: 1_000,
            recheck_interval_ms: 500,
            gap_timeout_ms: 300_000,
            dedup_retention_hours: 24 * 14,
            max_in_flight: 1_000,
            max_concurrent: 4,
            readings_interval_ms: 15_000,
        }
    }
}

/// An event counted against `max_in_flight` until it is finished (or held).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn take(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A message as the runtime carries it between the poll loop and a key's worker.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: Vec<u8>,
    pub replay: bool,
    /// False for a held event taken up again: its offset was finished when it was held.
    pub tracked: bool,
    /// Given back when the delivery is dropped: finished, or held.
    pub _in_flight: Option<InFlight>,
}

/// Offsets of one partition handed to workers and not finished yet.
#[derive(Debug, Default)]
struct Tracker {
    pending: BTreeSet<i64>,
    next: i64,
    committed: i64,
}

impl Tracker {
    /// Everything below this offset is finished: the contiguous low-water mark.
    fn low_water(&self) -> i64 {
        self.pending.first().copied().unwrap_or(self.next)
    }
}

type Trackers = Arc<Mutex<HashMap<(String, i32), Tracker>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The low-water marks to commit: those that moved since the last commit, or all of them
/// when `everything` (a final or synchronous commit must not rely on an earlier async one
/// having succeeded).
fn commit_list(
    trackers: &Trackers,
    only: Option<&[(String, i32)]>,
    everything: bool,
) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    let mut trackers = lock(trackers);
    for ((topic, partition), tracker) in trackers.iter_mut() {
        if only.is_some_and(|only| !only.contains(&(topic.clone(), *partition))) {
            continue;
        }
        let low_water = tracker.low_water();
        if low_water > tracker.committed || (everything && low_water > 0) {
            let _ = list.add_partition_offset(topic, *partition, Offset::Offset(low_water));
            tracker.committed = low_water;
        }
    }
    list
}

#[derive(Clone)]
struct Metrics {
    events: IntCounterVec,
    failures: IntCounter,
    dead_lettered: IntCounter,
    lag: IntGaugeVec,
    paused: prometheus::IntGauge,
    pauses: IntCounter,
}

impl Metrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            events: IntCounterVec::new(
                Opts::new("consumer_events_total", "Events finished, by outcome"),
                &["outcome"],
            )?,
            failures: IntCounter::new("consumer_failures_total", "Failed handling attempts")?,
            dead_lettered: IntCounter::new("consumer_dead_lettered_total", "Events sent to a DLQ")?,
            lag: IntGaugeVec::new(
                Opts::new("consumer_lag", "Messages behind the partition's end"),
                &["topic", "partition"],
            )?,
            pauses: IntCounter::new(
                "consumer_pauses_total",
                "Times the consumer stopped taking events at its in-flight bound",
            )?,
            paused: prometheus::IntGauge::new(
                "consumer_paused",
                "1 while the consumer's partitions are paused (events stuck at the bound)",
            )?,
        };
        registry.register(Box::new(metrics.events.clone()))?;
        registry.register(Box::new(metrics.failures.clone()))?;
        registry.register(Box::new(metrics.dead_lettered.clone()))?;
        registry.register(Box::new(metrics.lag.clone()))?;
        registry.register(Box::new(metrics.paused.clone()))?;
        registry.register(Box::new(metrics.pauses.clone()))?;
        Ok(metrics)
    }
}

pub(crate) struct Context {
    trackers: Trackers,
    lag: IntGaugeVec,
    /// Set once the final commit is done, or by [`ConsumerHandle::kill`] (a crashed process
    /// commits nothing on its way out): a revoke while leaving the group commits nothing.
    commits_closed: Arc<std::sync::atomic::AtomicBool>,
}

impl ClientContext for Context {
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, partition_stats) in &stats.partitions {
                if *partition >= 0 && partition_stats.consumer_lag >= 0 {
                    self.lag
                        .with_label_values(&[topic.as_str(), &partition.to_string()])
                        .set(partition_stats.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance
            && !self
                .commits_closed
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            let revoked: Vec<(String, i32)> = revoked
                .elements()
                .iter()
                .map(|element| (element.topic().to_owned(), element.partition()))
                .collect();
            // Asynchronous: this callback runs inside a poll on a runtime thread, and a
            // synchronous commit with the coordinator gone blocks that thread (and every
            // task on it) for as long as the client keeps trying. A commit that does not
            // land only means the next owner sees those events again and skips them by id.
            let list = commit_list(&self.trackers, Some(&revoked), true);
            if list.count() > 0
                && let Err(error) = consumer.commit(&list, CommitMode::Async)
            {
                tracing::warn!(%error, "committing revoked partitions failed");
            }
            let mut trackers = lock(&self.trackers);
            for partition in revoked {
                trackers.remove(&partition);
            }
        }
    }
}

struct Shared {
    consumer: OffRuntime<StreamConsumer<Context>>,
    applier: Applier,
    sequencer: Arc<dyn Sequencer>,
    settings: ConsumerSettings,
    metrics: Metrics,
    dead_letters: DeadLetterWriter,
    trackers: Trackers,
    workers: Mutex<HashMap<String, mpsc::UnboundedSender<Delivery>>>,
    /// Deliveries in flight; the poll loop pauses the partitions at `max_in_flight`.
    in_flight: Arc<AtomicUsize>,
    /// Places for events being applied: the consumer's share of the database.
    applying: tokio::sync::Semaphore,
    /// The service's requests, which applying gives way to.
    requests: RequestLoad,
    /// False once the held-event round found none held for this consumer (by any instance)
    /// and this instance held none since: then an applied event has no successor to look
    /// for. One held by another instance meanwhile is found by the next round.
    maybe_held: AtomicBool,
    /// Events this instance held, so a round's "none held" read before a hold is not
    /// taken as the truth after it.
    holds: AtomicUsize,
    tasks: tokio_util::task::TaskTracker,
    /// Stop taking events; an event being applied finishes, one waiting to retry is left
    /// unfinished (its offset uncommitted, so it is delivered again).
    stopping: CancellationToken,
    /// Past the grace period: workers are dropped wherever they are.
    abort: CancellationToken,
}

impl Shared {
    /// Waits `pause`, unless the consumer is stopping: then returns false at once.
    async fn pause(&self, pause: Duration) -> bool {
        tokio::select! {
            () = self.stopping.cancelled() => false,
            () = tokio::time::sleep(pause) => true,
        }
    }
}

/// Builds and starts a consumer group member.
pub struct ConsumerRuntime {
    kafka: KafkaSettings,
    group: String,
    topics: Vec<String>,
    settings: ConsumerSettings,
    db: DatabaseConnection,
    handlers: Handlers,
    sequencer: Arc<dyn Sequencer>,
    registry: Registry,
    requests: RequestLoad,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

impl ConsumerRuntime {
    pub fn new(
        kafka: &KafkaSettings,
        group: &str,
        topics: &[&str],
        db: DatabaseConnection,
        handlers: Handlers,
        sequencer: Arc<dyn Sequencer>,
        registry: &Registry,
    ) -> Self {
        Self {
            kafka: kafka.clone(),
            group: group.to_owned(),
            topics: topics.iter().map(|topic| (*topic).to_owned()).collect(),
            settings: ConsumerSettings::default(),
            db,
            handlers,
            sequencer,
            registry: registry.clone(),
            requests: RequestLoad::never_yield(),
        }
    }

    pub fn with_settings(mut self, settings: ConsumerSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Each event waits for a busy service's requests first (see [`RequestLoad`]).
    pub fn giving_way_to(mut self, requests: RequestLoad) -> Self {
        self.requests = requests;
        self
    }

    /// Joins the group and starts consuming.
    pub fn start(self) -> Result<ConsumerHandle, ConsumerError> {
        let metrics = Metrics::new(&self.registry)?;
        let trackers: Trackers = Arc::default();
        let commits_closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let context = Context {
            trackers: trackers.clone(),
            lag: metrics.lag.clone(),
            commits_closed: commits_closed.clone(),
        };
        let client_id = format!("{}-{}", self.group, uuid::Uuid::new_v4().simple());
        let consumer: StreamConsumer<Context> = self
            .kafka
            .consumer_config(&client_id, &self.group)
            .create_with_context(context)?;
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let max_concurrent = self.settings.max_concurrent.max(1);
        let shared = Arc::new(Shared {
            consumer: OffRuntime::new(consumer),
            applier: Applier::new(self.db.clone(), &self.group, self.handlers),
            sequencer: self.sequencer,
            dead_letters: DeadLetterWriter::new(self.db, &self.kafka, &self.group)?,
            settings: self.settings,
            metrics,
            trackers,
            workers: Mutex::new(HashMap::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            applying: tokio::sync::Semaphore::new(max_concurrent),
            requests: self.requests,
            maybe_held: AtomicBool::new(true),
            holds: AtomicUsize::new(0),
            tasks: tokio_util::task::TaskTracker::new(),
            stopping: CancellationToken::new(),
            abort: CancellationToken::new(),
        });
        let stopping = shared.stopping.clone();
        let poll = tokio::spawn(poll_loop(shared.clone(), stopping.clone()));
        let commits = tokio::spawn(commit_loop(shared.clone(), stopping.clone()));
        let scheduler = tokio::spawn(due_loop(shared.clone(), stopping.clone()));
        let held = tokio::spawn(held_loop(shared.clone(), stopping));
        Ok(ConsumerHandle {
            shared: Some(shared),
            commits_closed,
            tasks: vec![poll, commits, scheduler, held],
        })
    }
}

/// A running consumer. Stop it with [`ConsumerHandle::shutdown`]; [`ConsumerHandle::kill`]
/// simulates a crash (nothing more is committed). Dropped without either, it stops at once
/// like a kill, and its Kafka client leaves the group on a thread of its own.
pub struct ConsumerHandle {
    shared: Option<Arc<Shared>>,
    commits_closed: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The longest a stopping consumer waits for the broker to take its final commit, and then
/// to let it leave the group: a broker that answers at all answers well within it.
const BROKER_ANSWER_LIMIT: Duration = Duration::from_secs(3);

impl ConsumerHandle {
    /// Stops fetching, lets workers finish the event in hand within `grace`, commits what
    /// finished and leaves the group. Whatever is gone (broker, database, Redis), it returns
    /// within `grace`: unfinished events are simply not committed, so they come again.
    pub async fn shutdown(self, grace: Duration) {
        self.shutdown_by(tokio::time::Instant::now() + grace).await;
    }

    /// [`ConsumerHandle::shutdown`] against a deadline shared with the rest of the service.
    pub async fn shutdown_by(mut self, deadline: tokio::time::Instant) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let now = tokio::time::Instant::now();
        // What the broker needs at the end: the final commit, then leaving the group.
        let reserve = (deadline.saturating_duration_since(now) / 4).min(2 * BROKER_ANSWER_LIMIT);
        let workers_until = (deadline - reserve).min(now + crate::background::WORK_IN_HAND);
        shared.stopping.cancel();
        for mut task in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout_at(workers_until, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        lock(&shared.workers).clear();
        shared.tasks.close();
        if tokio::time::timeout_at(workers_until, shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "consumer workers did not finish within the grace period; their events will come again"
            );
            shared.abort.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(1), shared.tasks.wait()).await;
        }
        let left = || {
            deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(BROKER_ANSWER_LIMIT)
        };
        let list = commit_list(&shared.trackers, None, true);
        let mut broker_answers = true;
        if list.count() > 0 {
            let committing = shared.clone();
            let committed = on_own_thread("final offset commit", left(), move || {
                committing.consumer.commit(&list, CommitMode::Sync)
            })
            .await;
            match committed {
                Some(Ok(())) => {}
                Some(Err(error)) => {
                    tracing::warn!(%error, "final offset commit failed; the events since the last commit will come again")
                }
                None => {
                    broker_answers = false;
                    tracing::warn!(
                        "the broker did not take the final commit in time; the events since the last commit will come again"
                    );
                }
            }
        }
        self.commits_closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // The last reference leaves the group; anything still holding one (a commit given
        // up on) drops it on its own thread later. A broker that did not take the commit
        // will not see us leave either: the client then goes on its own thread
        // (OffRuntime) and the group notices at its session timeout.
        if broker_answers && let Ok(shared) = Arc::try_unwrap(shared) {
            let consumer = shared.consumer.into_inner();
            let left = left();
            if on_own_thread("leaving the consumer group", left, move || drop(consumer))
                .await
                .is_none()
            {
                tracing::warn!(
                    "the group was not left in time; the broker will notice at the session timeout"
                );
            }
        }
    }

    /// Stops everything at once without committing, as a crash would.
    pub fn kill(mut self) {
        self.commits_closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.stop_now();
    }

    fn stop_now(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(shared) = self.shared.take() {
            shared.stopping.cancel();
            shared.abort.cancel();
            lock(&shared.workers).clear();
        }
    }
}

impl Drop for ConsumerHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// How often a consumer held at its bound, or paused, looks whether there is room again.
const PAUSED_RECHECK: Duration = Duration::from_millis(5);
/// How long the consumer stops taking messages at its bound before it pauses its
/// partitions instead: not taking them costs nothing (librdkafka stops fetching once its
/// bounded queue is full) but also answers no rebalance, so it is kept short. A pause keeps
/// the group answered for as long as events stay stuck; librdkafka resumes a paused
/// partition only after about a second, so it is the fallback, not the rule.
const HOLD_BEFORE_PAUSING: Duration = Duration::from_secs(2);

async fn poll_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let bound = shared.settings.max_in_flight.max(1);
    let room = |shared: &Shared| shared.in_flight.load(Ordering::Acquire) <= bound / 2;
    let mut paused = false;
    loop {
        // Backpressure: at the bound, take no more until half of it is finished.
        let in_flight = shared.in_flight.load(Ordering::Acquire);
        if !paused && in_flight >= bound {
            shared.metrics.pauses.inc();
            let held_since = tokio::time::Instant::now();
            while !room(&shared) && held_since.elapsed() < HOLD_BEFORE_PAUSING {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(PAUSED_RECHECK) => {}
                }
            }
            if !room(&shared) {
                paused = set_paused(&shared, true);
            }
            continue;
        }
        if paused && room(&shared) {
            paused = !set_paused(&shared, false);
        } else if paused {
            // A rebalance may have handed us partitions since: they are paused too.
            set_paused(&shared, true);
        }
        let message = tokio::select! {
            () = shutdown.cancelled() => return,
            message = shared.consumer.recv() => message,
            () = tokio::time::sleep(PAUSED_RECHECK * 4), if paused => continue,
        };
        match message {
            Ok(message) => {
                let replay = message.headers().is_some_and(|headers| {
                    headers.iter().any(|header| header.key == headers::REPLAY)
                });
                let delivery = Delivery {
                    topic: message.topic().to_owned(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message
                        .key()
                        .map(|key| String::from_utf8_lossy(key).into_owned())
                        .unwrap_or_default(),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    replay,
                    tracked: true,
                    _in_flight: Some(InFlight::take(&shared.in_flight)),
                };
                {
                    let mut trackers = lock(&shared.trackers);
                    let tracker = trackers
                        .entry((delivery.topic.clone(), delivery.partition))
                        .or_insert_with(|| Tracker {
                            pending: BTreeSet::new(),
                            next: delivery.offset,
                            committed: delivery.offset,
                        });
                    tracker.pending.insert(delivery.offset);
                    tracker.next = tracker.next.max(delivery.offset + 1);
                }
                dispatch(&shared, delivery);
            }
            Err(error) => {
                tracing::warn!(%error, "consuming failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Pauses (or resumes) every partition assigned now; true if the broker client took it.
fn set_paused(shared: &Shared, pause: bool) -> bool {
    let assignment = match shared.consumer.assignment() {
        Ok(assignment) => assignment,
        Err(error) => {
            tracing::warn!(%error, "reading the assignment failed");
            return false;
        }
    };
    if assignment.count() == 0 {
        return pause;
    }
    let result = if pause {
        shared.consumer.pause(&assignment)
    } else {
        shared.consumer.resume(&assignment)
    };
    match result {
        Ok(()) => {
            shared.metrics.paused.set(i64::from(pause));
            true
        }
        Err(error) => {
            tracing::warn!(%error, pause, "pausing or resuming partitions failed");
            false
        }
    }
}

fn dispatch(shared: &Arc<Shared>, delivery: Delivery) {
    let mut workers = lock(&shared.workers);
    let delivery = match workers.get(&delivery.key) {
        Some(sender) => match sender.send(delivery) {
            Ok(()) => return,
            Err(returned) => returned.0,
        },
        None => delivery,
    };
    let (sender, receiver) = mpsc::unbounded_channel();
    let key = delivery.key.clone();
    let _ = sender.send(delivery);
    workers.insert(key.clone(), sender);
    let worker_shared = shared.clone();
    shared.tasks.spawn(async move {
        let abort = worker_shared.abort.clone();
        tokio::select! {
            () = abort.cancelled() => {}
            () = key_worker(worker_shared, key, receiver) => {}
        }
    });
}

async fn commit_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let interval = Duration::from_millis(shared.settings.commit_interval_ms.max(10));
    let mut last_cleanup = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if last_cleanup.elapsed() >= Duration::from_secs(3600) {
            last_cleanup = tokio::time::Instant::now();
            let retention = chrono::Duration::hours(shared.settings.dedup_retention_hours as i64);
            if let Err(error) = shared
                .applier
                .forget_before(chrono::Utc::now() - retention)
                .await
            {
                tracing::warn!(%error, "pruning processed events failed");
            }
        }
        let list = commit_list(&shared.trackers, None, false);
        if list.count() > 0
            && let Err(error) = shared.consumer.commit(&list, CommitMode::Async)
        {
            tracing::warn!(%error, "committing offsets failed; will retry");
        }
    }
}

/// Wakes keys whose retry time has come, wherever their worker runs.
async fn due_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        if let Ok(keys) = shared.sequencer.take_due(chrono::Utc::now(), 100).await {
            for key in keys {
                shared.sequencer.announce(&key).await;
            }
        }
    }
}

/// How long a held event handed to a worker is not handed out again.
const HELD_LEASE: Duration = Duration::from_secs(10);

/// Hands held events whose slot has come to their key's worker (a predecessor applied by
/// another instance, a slot passed by an admin, a restart), and reports keys that have
/// waited past `gap_timeout_ms` for a predecessor that does not come.
async fn held_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let interval = Duration::from_millis(shared.settings.recheck_interval_ms.max(10));
    let gap_timeout = chrono::Duration::milliseconds(
        i64::try_from(shared.settings.gap_timeout_ms).unwrap_or(i64::MAX),
    );
    let lease = chrono::Duration::milliseconds(HELD_LEASE.as_millis() as i64);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let holds_before = shared.holds.load(Ordering::Acquire);
        match shared.applier.holds_any().await {
            Ok(true) => shared.maybe_held.store(true, Ordering::Release),
            Ok(false) if shared.holds.load(Ordering::Acquire) == holds_before => {
                shared.maybe_held.store(false, Ordering::Release);
            }
            Ok(false) => {}
            Err(error) => tracing::debug!(%error, "counting held events failed"),
        }
        match shared.applier.due_held(lease, 100).await {
            Ok(due) => {
                for row in due {
                    dispatch(
                        &shared,
                        Delivery {
                            topic: row.topic,
                            partition: -1,
                            offset: -1,
                            key: row.aggregate_id,
                            payload: row.payload,
                            replay: false,
                            tracked: false,
                            _in_flight: None,
                        },
                    );
                }
            }
            Err(error) => tracing::warn!(%error, "looking for held events failed"),
        }
        match shared.applier.gaps(chrono::Utc::now() - gap_timeout).await {
            Ok(gaps) => {
                for gap in gaps {
                    shared.dead_letters.record_gap(&gap).await;
                }
            }
            Err(error) => tracing::warn!(%error, "looking for gaps failed"),
        }
    }
}

async fn key_worker(
    shared: Arc<Shared>,
    key: String,
    mut receiver: mpsc::UnboundedReceiver<Delivery>,
) {
    let idle = Duration::from_secs(5);
    loop {
        if shared.stopping.is_cancelled() {
            return;
        }
        let received = tokio::select! {
            () = shared.stopping.cancelled() => return,
            received = tokio::time::timeout(idle, receiver.recv()) => received,
        };
        let delivery = match received {
            Ok(Some(delivery)) => delivery,
            Ok(None) => return,
            Err(_) => {
                let mut workers = lock(&shared.workers);
                if receiver.is_empty() {
                    workers.remove(&key);
                    return;
                }
                continue;
            }
        };
        let Some(event) = decode(&shared, &delivery).await else {
            continue;
        };
        let mut next = Some((delivery, event));
        while let Some((delivery, event)) = next.take() {
            next = process(&shared, &key, delivery, event).await;
        }
    }
}

/// Decodes a delivery; an undecodable message is dead-lettered and finished.
async fn decode(shared: &Shared, delivery: &Delivery) -> Option<IncomingEvent> {
    match events::Envelope::decode(delivery.payload.as_slice()) {
        Ok(envelope) => Some(IncomingEvent {
            envelope,
            topic: delivery.topic.clone(),
            partition: delivery.partition,
            offset: delivery.offset,
            replay: delivery.replay,
        }),
        Err(error) => {
            shared
                .dead_letters
                .write(
                    delivery,
                    None,
                    &format!("not an event envelope: {error}"),
                    1,
                )
                .await;
            shared.metrics.dead_lettered.inc();
            finish(shared, delivery, "dead_lettered");
            None
        }
    }
}

fn finish(shared: &Shared, delivery: &Delivery, outcome: &str) {
    shared.metrics.events.with_label_values(&[outcome]).inc();
    if delivery.tracked
        && let Some(tracker) =
            lock(&shared.trackers).get_mut(&(delivery.topic.clone(), delivery.partition))
    {
        tracker.pending.remove(&delivery.offset);
    }
}

/// Handles one event to a final outcome (or holds it). Returns the event that may now be
/// applied next for this key (its successor, if it is held).
async fn process(
    shared: &Arc<Shared>,
    key: &str,
    delivery: Delivery,
    event: IncomingEvent,
) -> Option<(Delivery, IncomingEvent)> {
    let span = tracing::info_span!(
        "consume",
        topic = %event.topic,
        event_type = %event.envelope.event_type,
        aggregate = %key,
        seq = event.envelope.aggregate_seq,
    );
    crate::telemetry::continue_trace(&span, &event.envelope.traceparent);
    async {
        if shared.applier.ignores(&event) {
            // No handler here: only the key's progress moves, in one statement, with no
            // lease (see `Applier::pass_ignored`). Anything else takes the full path.
            shared.requests.give_way().await;
            let Ok(_applying) = shared.applying.acquire().await else {
                return None;
            };
            match shared.applier.pass_ignored(&event).await {
                Ok(true) => {
                    finish(shared, &delivery, "applied");
                    return successor(shared, key, &event).await;
                }
                Ok(false) => {}
                Err(error) => tracing::debug!(%error, "passing an ignored event failed; applying it in full"),
            }
        }
        let mut attempts: u32 = 0;
        let mut transient = crate::retry::Backoff::up_to(Duration::from_millis(shared.settings.max_retry_backoff_ms));
        let mut unavailable = crate::retry::Backoff::up_to(Duration::from_millis(shared.settings.unavailable_max_backoff_ms));
        loop {
            // The consumer's share of the database: at most `max_concurrent` events apply at
            // once, whatever the backlog, and after the service's requests.
            shared.requests.give_way().await;
            let Ok(_applying) = shared.applying.acquire().await else {
                return None;
            };
            let lease = match shared.sequencer.acquire(key).await {
                Ok(lease) => lease,
                Err(error) => {
                    tracing::warn!(%error, "waiting for the sequencer");
                    if !shared.pause(Duration::from_millis(200)).await {
                        return None;
                    }
                    continue;
                }
            };
            let result = shared.applier.apply(lease.fence(), &event).await;
            lease.release().await;
            match result {
                Ok(Applied::Applied) | Ok(Applied::Ignored) => {
                    crate::outbox::committed();
                    finish(shared, &delivery, "applied");
                    shared.sequencer.announce(key).await;
                    return successor(shared, key, &event).await;
                }
                Ok(Applied::Duplicate) => {
                    finish(shared, &delivery, "duplicate");
                    return successor(shared, key, &event).await;
                }
                Ok(Applied::Early { .. }) => {
                    // Kept in the database, so its offset is finished and the partition goes
                    // on: it is applied when its slot comes (see `successor`, `held_loop`).
                    if let Err(error) = shared.applier.hold(&event, &delivery.payload).await {
                        let pause = transient.next_delay();
                        tracing::warn!(%error, retry_in = ?pause, "holding an early event failed; pausing");
                        if !shared.pause(pause).await {
                            return None;
                        }
                        continue;
                    }
                    shared.holds.fetch_add(1, Ordering::AcqRel);
                    shared.maybe_held.store(true, Ordering::Release);
                    finish(shared, &delivery, "held");
                    return None;
                }
                Err(ApplyError::StaleLease) => {
                    // Normally the next lease carries a higher token and goes through; a
                    // coordinator whose clock went back would refuse every one, so wait
                    // between tries rather than spin.
                    let pause = transient.next_delay();
                    tracing::warn!(retry_in = ?pause, "a newer lease wrote this key; retrying with a new one");
                    if !shared.pause(pause).await {
                        return None;
                    }
                }
                Err(ApplyError::Database(error)) => {
                    let pause = transient.next_delay();
                    tracing::warn!(%error, retry_in = ?pause, "database unavailable; pausing");
                    if !shared.pause(pause).await {
                        return None;
                    }
                }
                Err(ApplyError::Handler(HandlerError::Unavailable(reason))) => {
                    let pause = unavailable.next_delay();
                    tracing::info!(%reason, retry_in = ?pause, "downstream unavailable; key rescheduled");
                    let due = chrono::Utc::now() + chrono::Duration::milliseconds(pause.as_millis() as i64);
                    if let Err(error) = shared.sequencer.reschedule(key, due).await {
                        tracing::debug!(%error, "rescheduling in the sequencer failed");
                    }
                    // Woken by the due-time scheduler (any instance), or by our own timer.
                    tokio::select! {
                        () = shared.stopping.cancelled() => return None,
                        () = shared.sequencer.wait_for_change(key, pause) => {}
                    }
                }
                Err(ApplyError::Handler(HandlerError::Transient(reason))) => {
                    attempts += 1;
                    shared.metrics.failures.inc();
                    if attempts >= shared.settings.max_attempts {
                        dead_letter(shared, &delivery, &event, &reason, attempts).await;
                        return None;
                    }
                    let pause = transient.next_delay();
                    tracing::warn!(%reason, attempts, retry_in = ?pause, "handler failed; retrying");
                    if !shared.pause(pause).await {
                        return None;
                    }
                }
                Err(ApplyError::Handler(HandlerError::Permanent(reason))) => {
                    shared.metrics.failures.inc();
                    dead_letter(shared, &delivery, &event, &reason, attempts + 1).await;
                    return None;
                }
                Err(ApplyError::BadEventId) => {
                    dead_letter(shared, &delivery, &event, "the envelope has no valid event id", 1).await;
                    return None;
                }
            }
        }
    }
    .instrument(span)
    .await
}

async fn dead_letter(
    shared: &Arc<Shared>,
    delivery: &Delivery,
    event: &IncomingEvent,
    reason: &str,
    attempts: u32,
) {
    // Its slot stays open: the key's later events are held behind it (visible with the
    // dead letter) until it is replayed or an admin passes the slot. Nothing is voided.
    shared
        .dead_letters
        .write(delivery, Some(&event.envelope), reason, attempts)
        .await;
    // A held event that failed is the dead letter now: it must not be handed out again.
    let envelope = &event.envelope;
    if envelope.aggregate_seq > 0
        && let Err(error) = shared
            .applier
            .release_held(
                &envelope.producer,
                &envelope.aggregate_id,
                envelope.aggregate_seq,
            )
            .await
    {
        tracing::warn!(%error, "forgetting a dead-lettered held event failed");
    }
    shared.metrics.dead_lettered.inc();
    finish(shared, delivery, "dead_lettered");
    shared.sequencer.announce(&delivery.key).await;
}

/// The next event of this key's producer, if it is held (it came early). Forgets what is
/// held up to `event`, which is applied now.
async fn successor(
    shared: &Arc<Shared>,
    key: &str,
    event: &IncomingEvent,
) -> Option<(Delivery, IncomingEvent)> {
    let envelope = &event.envelope;
    if envelope.aggregate_seq == 0 || !shared.maybe_held.load(Ordering::Acquire) {
        return None;
    }
    if let Err(error) = shared
        .applier
        .release_held(
            &envelope.producer,
            &envelope.aggregate_id,
            envelope.aggregate_seq,
        )
        .await
    {
        tracing::debug!(%error, "forgetting held events failed; they are found applied later");
    }
    let next = shared
        .applier
        .take_held(
            &envelope.producer,
            &envelope.aggregate_id,
            envelope.aggregate_seq + 1,
            chrono::Duration::milliseconds(HELD_LEASE.as_millis() as i64),
        )
        .await
        .ok()
        .flatten()?;
    let delivery = Delivery {
        topic: next.topic,
        partition: -1,
        offset: -1,
        key: key.to_owned(),
        payload: next.payload,
        replay: false,
        tracked: false,
        _in_flight: None,
    };
    let event = decode(shared, &delivery).await?;
    Some((delivery, event))
}
