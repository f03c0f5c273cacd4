//! `make bench-group`: how long the partitions of a consumer that was `kill -9`ed stay
//! unhandled before the group moves them on. Two instances of the real `ConsumerRuntime`
//! (child processes of this executable) share a topic of 6 partitions on the embedded
//! broker (or `KAFKA_BROKERS`), PostgreSQL and Redis, under a steady stream of sequenced
//! events; one is killed and the clock runs until the survivor handles an event of every
//! partition the dead one owned. Each child prints each event its handler sees.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use events::{Envelope, Event};
use platform::config::SequencerSettings;
use platform::consumer::{ConsumerRuntime, Handle, HandlerError, Handlers, IncomingEvent};
use platform::kafka::{COOPERATIVE, KafkaSettings};
use platform::sequencer::RedisSequencer;
use platform::testing::{TestBroker, fresh_database, shared_redis_url};
use prost::Message as _;
use rdkafka::producer::FutureRecord;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::{Deserialize, Serialize};

/// Set (to the child's settings as JSON) in a child process.
const CHILD: &str = "GROUP_BENCH_CHILD";
const PARTITIONS: i32 = 6;
const KEYS: u64 = 120;
const RATE_PER_SECOND: u64 = 200;
/// Every partition handled by one instance, both busy, for this long: the group settled.
const SETTLED_FOR: Duration = Duration::from_secs(2);
const SETTLE_DEADLINE: Duration = Duration::from_secs(90);
const MOVE_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Clone, PartialEq, prost::Message)]
struct GroupTick {
    #[prost(uint64, tag = "1")]
    n: u64,
}

impl Event for GroupTick {
    const EVENT_TYPE: &'static str = "bench.GroupTick";
    const TOPIC: &'static str = "bench.group";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChildConfig {
    brokers: String,
    group: String,
    topic: String,
    database: String,
    redis_prefix: String,
    session_timeout_ms: u64,
    heartbeat_interval_ms: u64,
    assignment_strategy: String,
    group_instance_id: Option<String>,
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

/// The child's handler: one line per event, `partition key n`, out at once.
struct Report;

#[async_trait]
impl Handle<GroupTick> for Report {
    async fn handle(
        &self,
        _txn: &sea_orm::DatabaseTransaction,
        event: GroupTick,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{} {} {}",
            incoming.partition, incoming.envelope.aggregate_id, event.n
        );
        let _ = out.flush();
        Ok(())
    }
}

async fn child(config: ChildConfig) {
    // The parent holds our stdin: when it is gone, so are we, whatever killed it.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let kafka = KafkaSettings {
        brokers: config.brokers,
        session_timeout_ms: config.session_timeout_ms,
        heartbeat_interval_ms: config.heartbeat_interval_ms,
        assignment_strategy: config.assignment_strategy,
        group_instance_id: config.group_instance_id,
        ..KafkaSettings::default()
    };
    let db = sea_orm::Database::connect(&config.database).await.unwrap();
    // As a service runs it: a crashed holder blocks its key for the lease's time to live.
    let ttl = Duration::from_millis(SequencerSettings::default().lease_ttl_ms);
    let sequencer =
        Arc::new(RedisSequencer::new(&shared_redis_url(), &config.redis_prefix, ttl).unwrap());
    let _consumer = ConsumerRuntime::new(
        &kafka,
        &config.group,
        &[&config.topic],
        db,
        Handlers::new().on::<GroupTick, _>(Report),
        sequencer,
        &prometheus::Registry::new(),
    )
    .start()
    .unwrap();
    std::future::pending::<()>().await;
}

/// One event a child's handler saw, stamped when the parent read it.
#[derive(Debug, Clone)]
struct Seen {
    child: usize,
    at: Instant,
    partition: i32,
    key: String,
    n: u64,
}

/// The children of one run; dropped (the run done, or the bench panicking), they are killed.
struct Children {
    running: HashMap<usize, Child>,
    seen: mpsc::Sender<Seen>,
}

impl Children {
    fn spawn(&mut self, id: usize, config: &ChildConfig) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, serde_json::to_string(config).unwrap())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let seen = self.seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let mut fields = line.split(' ');
                let (Some(partition), Some(key), Some(n)) =
                    (fields.next(), fields.next(), fields.next())
                else {
                    continue;
                };
                let event = Seen {
                    child: id,
                    at: Instant::now(),
                    partition: partition.parse().unwrap(),
                    key: key.to_owned(),
                    n: n.parse().unwrap(),
                };
                if seen.send(event).is_err() {
                    return;
                }
            }
        });
        self.running.insert(id, child);
    }

    /// SIGKILL: no commit, no leaving the group.
    fn kill(&mut self, id: usize) {
        if let Some(mut child) = self.running.remove(&id) {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, mut child) in self.running.drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug, Clone)]
struct Scenario {
    name: &'static str,
    session_timeout_ms: u64,
    heartbeat_interval_ms: u64,
    assignment_strategy: &'static str,
    /// Static membership, and the killed instance started again at once under its id.
    restart: bool,
}

#[derive(Debug, Default)]
struct Outcome {
    /// From the kill (or the restart) until an event of every partition of the killed
    /// instance was handled again.
    partitions: Option<Duration>,
    /// Until every key seen on those partitions was handled again (a key whose sequencer
    /// lease the dead instance held waits for the lease to expire).
    keys: Option<Duration>,
    /// The longest pause of any partition the survivor owned all along.
    survivor_gap: Duration,
    handled_by_restarted: bool,
    produced: u64,
    missing: u64,
}

struct Log {
    events: Vec<Seen>,
    receiver: mpsc::Receiver<Seen>,
}

impl Log {
    fn drain(&mut self) {
        while let Ok(event) = self.receiver.try_recv() {
            self.events.push(event);
        }
    }

    /// Who handled each partition since `since`.
    fn owners(&self, since: Instant) -> BTreeMap<i32, BTreeSet<usize>> {
        let mut owners: BTreeMap<i32, BTreeSet<usize>> = BTreeMap::new();
        for event in self.events.iter().filter(|event| event.at >= since) {
            owners
                .entry(event.partition)
                .or_default()
                .insert(event.child);
        }
        owners
    }
}

async fn run(broker: &TestBroker, database: &str, scenario: &Scenario, run: usize) -> Outcome {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let topic = format!("bench.group.{suffix}");
    broker.create_topics(&[&topic], PARTITIONS).await;
    let config = |instance: &str| ChildConfig {
        brokers: broker.brokers.clone(),
        group: format!("bench-group-{suffix}"),
        topic: topic.clone(),
        database: database.to_owned(),
        redis_prefix: format!("bench-group-{suffix}"),
        session_timeout_ms: scenario.session_timeout_ms,
        heartbeat_interval_ms: scenario.heartbeat_interval_ms,
        assignment_strategy: scenario.assignment_strategy.to_owned(),
        group_instance_id: scenario.restart.then(|| format!("bench-{instance}")),
    };
    let (sender, receiver) = mpsc::channel();
    let mut log = Log {
        events: Vec::new(),
        receiver,
    };
    let mut children = Children {
        running: HashMap::new(),
        seen: sender,
    };
    children.spawn(0, &config("a"));
    children.spawn(1, &config("b"));

    // A steady stream over keys on every partition, each event numbered and sequenced.
    let producer = broker
        .settings()
        .producer("bench-group")
        .unwrap()
        .into_inner();
    let stop = tokio_util::sync::CancellationToken::new();
    let producing = tokio::spawn({
        let stop = stop.clone();
        let topic = topic.clone();
        let source = format!("bench-group-{run}-{suffix}");
        async move {
            let mut interval =
                tokio::time::interval(Duration::from_micros(1_000_000 / RATE_PER_SECOND));
            let mut n = 0;
            while !stop.is_cancelled() {
                interval.tick().await;
                let key = format!("key-{}", n % KEYS);
                let payload = Envelope::wrap(&GroupTick { n }, &key, n / KEYS + 1, &source, "")
                    .encode_to_vec();
                let producer = producer.clone();
                let topic = topic.clone();
                tokio::spawn(async move {
                    producer
                        .send(
                            FutureRecord::to(&topic).key(&key).payload(&payload),
                            Duration::from_secs(10),
                        )
                        .await
                        .unwrap();
                });
                n += 1;
            }
            n
        }
    });

    // Settled: each partition handled by one instance, and both instances busy.
    let started = Instant::now();
    let mut settled_since: Option<Instant> = None;
    let owners = loop {
        assert!(
            started.elapsed() < SETTLE_DEADLINE,
            "{}: the group did not settle within {SETTLE_DEADLINE:?}",
            scenario.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        log.drain();
        let now = Instant::now();
        let window = log.owners(now - Duration::from_millis(500));
        let members: BTreeSet<usize> = window.values().flatten().copied().collect();
        let settled = window.len() == PARTITIONS as usize
            && window.values().all(|owners| owners.len() == 1)
            && members.len() == 2;
        if !settled {
            settled_since = None;
            continue;
        }
        let since = *settled_since.get_or_insert(now);
        let whole = log.owners(since - Duration::from_millis(500));
        if whole != window {
            settled_since = Some(now);
            continue;
        }
        if now - since >= SETTLED_FOR {
            break window;
        }
    };
    let victim = 1;
    let survivor = 0;
    let moved: BTreeSet<i32> = owners
        .iter()
        .filter(|(_, owners)| owners.contains(&victim))
        .map(|(partition, _)| *partition)
        .collect();
    let kept: BTreeSet<i32> = owners
        .iter()
        .filter(|(_, owners)| owners.contains(&survivor))
        .map(|(partition, _)| *partition)
        .collect();
    let moved_keys: BTreeSet<String> = log
        .events
        .iter()
        .filter(|event| moved.contains(&event.partition))
        .map(|event| event.key.clone())
        .collect();

    let killed_at = Instant::now();
    children.kill(victim);
    let from = Instant::now();
    if scenario.restart {
        children.spawn(2, &config("b"));
    }
    let mut outcome = Outcome::default();
    while from.elapsed() < MOVE_DEADLINE {
        tokio::time::sleep(Duration::from_millis(20)).await;
        log.drain();
        let after: Vec<&Seen> = log
            .events
            .iter()
            .filter(|event| event.child != victim && event.at >= from)
            .collect();
        let last_of = |done: &dyn Fn(&Seen) -> bool, all: usize| {
            let mut firsts = HashMap::new();
            for event in &after {
                if done(event) {
                    firsts.entry(event.partition).or_insert(event.at);
                }
            }
            (firsts.len() == all).then(|| firsts.values().max().copied().unwrap_or(from))
        };
        if outcome.partitions.is_none()
            && let Some(at) = last_of(&|event| moved.contains(&event.partition), moved.len())
        {
            outcome.partitions = Some(at - from);
            outcome.handled_by_restarted = after
                .iter()
                .any(|event| event.child == 2 && moved.contains(&event.partition));
        }
        let mut key_firsts: HashMap<&str, Instant> = HashMap::new();
        for event in &after {
            if moved_keys.contains(&event.key) {
                key_firsts.entry(&event.key).or_insert(event.at);
            }
        }
        if key_firsts.len() == moved_keys.len() {
            outcome.keys = key_firsts.values().max().map(|at| *at - from);
        }
        if outcome.partitions.is_some() && outcome.keys.is_some() {
            break;
        }
    }
    // The survivor's own partitions, from before the kill until a second after recovery.
    let until = killed_at + outcome.partitions.unwrap_or(MOVE_DEADLINE) + Duration::from_secs(1);
    tokio::time::sleep_until((until + Duration::from_millis(200)).into()).await;
    log.drain();
    for partition in &kept {
        let times: Vec<Instant> = log
            .events
            .iter()
            .filter(|event| event.child == survivor && event.partition == *partition)
            .map(|event| event.at)
            .filter(|at| *at <= until)
            .collect();
        let first = times.iter().rposition(|at| *at < killed_at).unwrap_or(0);
        for pair in times[first..].windows(2) {
            outcome.survivor_gap = outcome.survivor_gap.max(pair[1] - pair[0]);
        }
        if let Some(last) = times.last() {
            outcome.survivor_gap = outcome
                .survivor_gap
                .max(until.saturating_duration_since(*last));
        }
    }

    // Nothing lost: every event produced is handled by someone.
    stop.cancel();
    outcome.produced = producing.await.unwrap();
    let drained = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        log.drain();
        let handled: BTreeSet<u64> = log.events.iter().map(|event| event.n).collect();
        outcome.missing = outcome.produced - handled.range(..outcome.produced).count() as u64;
        if outcome.missing == 0 || drained.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    drop(children);
    outcome
}

fn seconds(duration: Option<Duration>) -> String {
    duration.map_or_else(
        || format!("> {} s", MOVE_DEADLINE.as_secs()),
        |duration| format!("{:.2} s", duration.as_secs_f64()),
    )
}

/// `median (min – max)` of the runs.
fn summary(mut runs: Vec<Option<Duration>>) -> String {
    runs.sort_by_key(|run| run.unwrap_or(Duration::MAX));
    let median = runs[runs.len() / 2];
    if runs.len() == 1 {
        return seconds(median);
    }
    format!(
        "{} ({} – {})",
        seconds(median),
        seconds(runs[0]),
        seconds(runs[runs.len() - 1])
    )
}

async fn parent() {
    let runs: usize = std::env::var("GROUP_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(3);
    let broker = TestBroker::start();
    let database = fresh_database("group").await;
    let db = sea_orm::Database::connect(&database).await.unwrap();
    platform::db::migrate::<Migrator>(&db).await.unwrap();
    db.close().await.unwrap();
    let defaults = KafkaSettings::default();
    assert_eq!(defaults.assignment_strategy, COOPERATIVE);
    let scenarios = [
        Scenario {
            name: "defaults",
            session_timeout_ms: defaults.session_timeout_ms,
            heartbeat_interval_ms: defaults.heartbeat_interval_ms,
            assignment_strategy: COOPERATIVE,
            restart: false,
        },
        Scenario {
            name: "lower session timeout",
            session_timeout_ms: 2_000,
            heartbeat_interval_ms: 500,
            assignment_strategy: COOPERATIVE,
            restart: false,
        },
        Scenario {
            name: "lower session timeout, eager",
            session_timeout_ms: 2_000,
            heartbeat_interval_ms: 500,
            assignment_strategy: "range,roundrobin",
            restart: false,
        },
        Scenario {
            name: "static membership, restarted at once",
            session_timeout_ms: defaults.session_timeout_ms,
            heartbeat_interval_ms: defaults.heartbeat_interval_ms,
            assignment_strategy: COOPERATIVE,
            restart: true,
        },
    ];
    let mut rows = Vec::new();
    for scenario in &scenarios {
        let mut outcomes = Vec::new();
        for n in 0..runs {
            let outcome = run(&broker, &database, scenario, n).await;
            eprintln!("{}: run {n}: {outcome:?}", scenario.name);
            outcomes.push(outcome);
        }
        rows.push((scenario.clone(), outcomes));
    }
    let broker_kind = if broker.embedded().is_some() {
        "embedded librdkafka broker (its mock cluster)"
    } else {
        "KAFKA_BROKERS"
    };

    println!("## Consumer group recovery\n");
    println!(
        "Command: `make bench-group` (`TEST_DATABASE=postgres cargo bench -p platform --bench group_recovery`).\n"
    );
    println!(
        "- date: {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("- machine: {}", platform::testing::machine_description());
    println!(
        "- setup: two instances of the consumer runtime (separate processes) in one group on a topic of {PARTITIONS} partitions, {RATE_PER_SECOND} sequenced events/s over {KEYS} keys; PostgreSQL, Redis sequencer (lease {} ms), {broker_kind}, all on the same machine. Once every partition has had one owner for {} s, one instance is killed with SIGKILL (no commit, no leaving the group). Each figure is the median of {runs} runs (min – max)\n",
        SequencerSettings::default().lease_ttl_ms,
        SETTLED_FOR.as_secs()
    );
    println!(
        "| scenario | session / heartbeat | assignment | stall: every partition of the killed instance handled again | every key of them | longest pause of the survivor's own partitions | events lost |"
    );
    println!("|---|---|---|---:|---:|---:|---:|");
    for (scenario, outcomes) in &rows {
        let lost: u64 = outcomes.iter().map(|outcome| outcome.missing).sum();
        let produced: u64 = outcomes.iter().map(|outcome| outcome.produced).sum();
        let name = if scenario.restart {
            let restarted = outcomes
                .iter()
                .filter(|outcome| outcome.handled_by_restarted)
                .count();
            format!(
                "{} (timed from the restart; the restarted instance took part in {restarted} of {runs})",
                scenario.name
            )
        } else {
            format!("{} (timed from the kill)", scenario.name)
        };
        println!(
            "| {name} | {} / {} ms | {} | {} | {} | {} | {lost} of {produced} |",
            scenario.session_timeout_ms,
            scenario.heartbeat_interval_ms,
            scenario.assignment_strategy,
            summary(outcomes.iter().map(|outcome| outcome.partitions).collect()),
            summary(outcomes.iter().map(|outcome| outcome.keys).collect()),
            summary(
                outcomes
                    .iter()
                    .map(|outcome| Some(outcome.survivor_gap))
                    .collect()
            ),
        );
    }
    println!(
        "\nA key whose sequencer lease the killed instance held waits out that lease ({} ms) as well, whatever the group does: the widest \"every key\" figures are those.",
        SequencerSettings::default().lease_ttl_ms
    );
    if broker.embedded().is_some() {
        println!(
            "\nOn the embedded broker these are upper bounds. It checks sessions once a second, and after a member died it waits the session timeout less 1 s before assigning, even when the survivor has already rejoined; a real Kafka assigns once the live members have rejoined (at most one heartbeat). It also does not keep a static member's place, so the static-membership row shows an ordinary rebalance here: on Kafka 2.3 or later the restarted member gets its partitions back without one. Run with `KAFKA_BROKERS` for a real broker's figures."
        );
    }
}

#[tokio::main]
async fn main() {
    match std::env::var(CHILD) {
        Ok(config) => child(serde_json::from_str(&config).unwrap()).await,
        Err(_) => parent().await,
    }
}
