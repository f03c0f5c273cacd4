use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use platform::consumer::{ConsumerRuntime, ConsumerSettings, Handlers};
use platform::sequencer::{LocalSequencer, RedisSequencer, Sequencer, run_in_sequence};
use platform::testing::{PrivateRedis, TestBroker, eventually, shared_redis_url};
use rand::seq::SliceRandom;
use sea_orm::DatabaseConnection;

use crate::support::{
    Counted, EffectHandler, TOPIC, assert_no_dead_letters, counter, database, effects, envelope,
    produce, reader, record_effect,
};

fn quick() -> ConsumerSettings {
    ConsumerSettings {
        max_attempts: 3,
        max_retry_backoff_ms: 50,
        unavailable_max_backoff_ms: 200,
        commit_interval_ms: 100,
        recheck_interval_ms: 100,
        ..ConsumerSettings::default()
    }
}

fn runtime(
    broker: &TestBroker,
    group: &str,
    db: &DatabaseConnection,
    handler: EffectHandler,
    sequencer: Arc<dyn Sequencer>,
    registry: &prometheus::Registry,
    settings: ConsumerSettings,
) -> platform::consumer::ConsumerHandle {
    ConsumerRuntime::new(
        &broker.settings(),
        group,
        &[TOPIC],
        db.clone(),
        Handlers::new().on::<Counted, _>(handler),
        sequencer,
        registry,
    )
    .with_settings(settings)
    .start()
    .unwrap()
}

fn group() -> String {
    format!("group-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_consumer_killed_before_committing_is_redelivered_without_a_second_effect() {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 1).await;
    let db = database().await;
    let producer = broker.settings().producer("test").unwrap();
    let group = group();
    let sequencer: Arc<dyn Sequencer> = Arc::new(LocalSequencer::new());

    let first_registry = prometheus::Registry::new();
    let never_commit = ConsumerSettings {
        commit_interval_ms: 3_600_000,
        ..quick()
    };
    let first = runtime(
        &broker,
        &group,
        &db,
        EffectHandler::default(),
        sequencer.clone(),
        &first_registry,
        never_commit.clone(),
    );
    produce(&producer, &envelope("order-1", 1), None).await;
    eventually(Duration::from_secs(30), "the effect", || async {
        effects(&db).await.len() == 1
    })
    .await;
    first.kill();

    let second_registry = prometheus::Registry::new();
    let second = runtime(
        &broker,
        &group,
        &db,
        EffectHandler::default(),
        sequencer,
        &second_registry,
        never_commit,
    );
    eventually(Duration::from_secs(30), "the redelivery", || async {
        counter(&second_registry, "consumer_events_total", Some("duplicate")) >= 1.0
    })
    .await;
    assert_eq!(effects(&db).await.len(), 1, "redelivered, but one effect");
    second.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn two_instances_and_direct_calls_serialise_every_key_in_sequence() {
    const KEYS: usize = 50;
    const EVENTS: u64 = 20;
    const DIRECT_KEYS: usize = 10;
    const DIRECT_CALLS: usize = 5;
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 4).await;
    let db = database().await;
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let sequencer = |_: usize| -> Arc<dyn Sequencer> {
        Arc::new(RedisSequencer::new(&shared_redis_url(), &prefix, Duration::from_secs(5)).unwrap())
    };
    let group = group();
    let (first_sequencer, second_sequencer) = (sequencer(1), sequencer(2));
    let first = runtime(
        &broker,
        &group,
        &db,
        EffectHandler::default(),
        first_sequencer.clone(),
        &prometheus::Registry::new(),
        quick(),
    );
    let second = runtime(
        &broker,
        &group,
        &db,
        EffectHandler::default(),
        second_sequencer.clone(),
        &prometheus::Registry::new(),
        quick(),
    );

    // Every key's events, in a random global order, each to a random partition.
    let mut plan: Vec<(String, u64)> = (0..KEYS)
        .flat_map(|key| (1..=EVENTS).map(move |seq| (format!("order-{key}"), seq)))
        .collect();
    plan.shuffle(&mut rand::rng());
    let producer = broker.settings().producer("test").unwrap();
    let producing = tokio::spawn(async move {
        for (key, seq) in plan {
            let partition = rand::random_range(0..4);
            produce(&producer, &envelope(&key, seq), Some(partition)).await;
        }
    });

    // Meanwhile, direct calls (as the API would make) on some of the same keys.
    let mut direct = Vec::new();
    for key in 0..DIRECT_KEYS {
        let sequencer = if key % 2 == 0 {
            first_sequencer.clone()
        } else {
            second_sequencer.clone()
        };
        let db = db.clone();
        direct.push(tokio::spawn(async move {
            for call in 0..DIRECT_CALLS {
                let aggregate = format!("order-{key}");
                run_in_sequence(sequencer.as_ref(), &aggregate, |_fence| {
                    let db = db.clone();
                    let aggregate = aggregate.clone();
                    async move {
                        record_effect(&db, &aggregate, call as i64, "direct")
                            .await
                            .unwrap()
                    }
                })
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(rand::random_range(0..20))).await;
            }
        }));
    }
    producing.await.unwrap();
    for task in direct {
        task.await.unwrap();
    }
    let expected = KEYS * EVENTS as usize + DIRECT_KEYS * DIRECT_CALLS;
    eventually(Duration::from_secs(100), "every effect", || async {
        assert_no_dead_letters(&db).await;
        effects(&db).await.len() >= expected
    })
    .await;

    let all = effects(&db).await;
    assert_eq!(all.len(), expected, "no effect twice");
    let mut by_key: BTreeMap<String, Vec<(i64, i64, String)>> = BTreeMap::new();
    for (aggregate, seq, position, source) in all {
        by_key
            .entry(aggregate)
            .or_default()
            .push((position, seq, source));
    }
    for (key, mut effects) in by_key {
        effects.sort();
        let positions: Vec<i64> = effects.iter().map(|effect| effect.0).collect();
        let count = effects.len() as i64;
        assert_eq!(
            positions,
            (1..=count).collect::<Vec<_>>(),
            "{key}: effects overlapped"
        );
        let event_seqs: Vec<i64> = effects
            .iter()
            .filter(|e| e.2 == "event")
            .map(|e| e.1)
            .collect();
        assert_eq!(
            event_seqs,
            (1..=EVENTS as i64).collect::<Vec<_>>(),
            "{key}: out of sequence"
        );
        let calls: Vec<i64> = effects
            .iter()
            .filter(|e| e.2 == "direct")
            .map(|e| e.1)
            .collect();
        let expected_calls: Vec<i64> = if key_index(&key) < DIRECT_KEYS {
            (0..DIRECT_CALLS as i64).collect()
        } else {
            Vec::new()
        };
        assert_eq!(
            calls, expected_calls,
            "{key}: direct calls out of arrival order"
        );
    }
    first.shutdown(Duration::from_secs(5)).await;
    second.shutdown(Duration::from_secs(5)).await;
}

fn key_index(key: &str) -> usize {
    key.trim_start_matches("order-").parse().unwrap()
}

#[tokio::test]
async fn processing_pauses_while_redis_is_down_and_resumes_without_loss_or_duplicates() {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 3).await;
    let db = database().await;
    let mut redis = PrivateRedis::start();
    let sequencer: Arc<dyn Sequencer> =
        Arc::new(RedisSequencer::new(&redis.url(), "private", Duration::from_secs(2)).unwrap());
    let consumer = runtime(
        &broker,
        &group(),
        &db,
        EffectHandler::default(),
        sequencer,
        &prometheus::Registry::new(),
        quick(),
    );

    let producer = broker.settings().producer("test").unwrap();
    for seq in 1..=10u64 {
        for key in 0..20 {
            produce(&producer, &envelope(&format!("order-{key}"), seq), None).await;
        }
    }
    eventually(Duration::from_secs(60), "some progress", || async {
        effects(&db).await.len() >= 20
    })
    .await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();

    eventually(Duration::from_secs(120), "all 200 effects", || async {
        effects(&db).await.len() >= 200
    })
    .await;
    let all = effects(&db).await;
    let mut seen: HashMap<(String, i64), usize> = HashMap::new();
    for (aggregate, seq, _, _) in &all {
        *seen.entry((aggregate.clone(), *seq)).or_default() += 1;
    }
    assert_eq!(all.len(), 200, "0 duplicated");
    assert_eq!(seen.len(), 200, "0 lost");
    consumer.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_and_holds_its_keys_later_events_until_replayed_then_they_follow_in_order()
 {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 1).await;
    let db = database().await;
    let handler = EffectHandler::default();
    handler.broken.store(true, Ordering::SeqCst);
    let registry = prometheus::Registry::new();
    let consumer = runtime(
        &broker,
        &group(),
        &db,
        handler.clone(),
        Arc::new(LocalSequencer::new()),
        &registry,
        quick(),
    );
    let producer = broker.settings().producer("test").unwrap();
    produce(&producer, &envelope("order-1", 1), None).await;
    eventually(Duration::from_secs(30), "the dead letter", || async {
        counter(&registry, "consumer_dead_lettered_total", None) >= 1.0
    })
    .await;
    // Its successor is held behind it, not applied past it; another key goes on.
    handler.broken.store(false, Ordering::SeqCst);
    produce(&producer, &envelope("order-1", 2), None).await;
    produce(&producer, &envelope("order-2", 1), None).await;
    eventually(Duration::from_secs(30), "the other key applied", || async {
        effects(&db).await.len() == 1
    })
    .await;

    let dlq = reader(&broker.brokers, &events::topics::dead_letter_topic(TOPIC));
    let message = tokio::time::timeout(Duration::from_secs(30), dlq.recv())
        .await
        .unwrap()
        .unwrap();
    let header = |name: &str| crate::support::header(&message, name);
    assert_eq!(header("dlq-attempts").as_deref(), Some("3"));
    assert!(header("dlq-error").unwrap().contains("broken"));
    assert_eq!(
        header("dlq-origin").as_deref(),
        Some(format!("{TOPIC}/0/0").as_str())
    );

    // Admins see it with what waits behind it, and replay it over HTTP.
    let app = dead_letter_admin(&db, &broker).await;
    eventually(Duration::from_secs(30), "its successor held", || async {
        app.get("/v1/admin/test/dead-letters").await["items"][0]["held_behind"] == 1
    })
    .await;
    let listed: serde_json::Value = app.get("/v1/admin/test/dead-letters").await;
    assert_eq!(listed["total"], 1);
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["items"][0]["attempts"], 3);
    let applied: Vec<String> = effects(&db).await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        applied,
        ["order-2"],
        "nothing of order-1 applied past its dead letter"
    );

    let replayed = app
        .post(&format!("/v1/admin/test/dead-letters/{id}/replay"))
        .await;
    assert_eq!(replayed, 202);
    eventually(
        Duration::from_secs(30),
        "the replayed event and the one held behind it applied",
        || async { effects(&db).await.len() == 3 },
    )
    .await;
    let order_1: Vec<i64> = effects(&db)
        .await
        .into_iter()
        .filter(|effect| effect.0 == "order-1")
        .map(|effect| effect.1)
        .collect();
    assert_eq!(order_1, [1, 2], "in order");
    assert_eq!(
        app.post(&format!("/v1/admin/test/dead-letters/{id}/replay"))
            .await,
        409
    );
    let after: serde_json::Value = app.get("/v1/admin/test/dead-letters").await;
    assert_eq!(after["total"], 0);
    consumer.shutdown(Duration::from_secs(5)).await;
    assert_eq!(effects(&db).await.len(), 3, "replayed once");
}

#[tokio::test]
async fn a_dead_letter_page_far_past_the_bound_is_a_400_not_a_crash() {
    let broker = TestBroker::start();
    let db = database().await;
    let app = dead_letter_admin(&db, &broker).await;
    // Once an overflow in the offset, which dropped the connection.
    for page in ["922337203685477581", "18446744073709551615", "10001", "0"] {
        let (status, problem) = app
            .get_any(&format!(
                "/v1/admin/test/dead-letters?page={page}&per_page=20"
            ))
            .await;
        assert_eq!(status, 400, "page {page}");
        assert_eq!(problem["code"], "invalid_query_parameter", "page {page}");
    }
    let (status, _) = app.get_any("/v1/admin/test/dead-letters?page=10000").await;
    assert_eq!(status, 200, "the last page allowed answers");
}

#[tokio::test]
async fn skipping_a_dead_letter_passes_its_slot_and_the_events_held_behind_it_follow() {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 1).await;
    let db = database().await;
    let handler = EffectHandler::default();
    handler.broken.store(true, Ordering::SeqCst);
    let registry = prometheus::Registry::new();
    let consumer = runtime(
        &broker,
        &group(),
        &db,
        handler.clone(),
        Arc::new(LocalSequencer::new()),
        &registry,
        quick(),
    );
    let producer = broker.settings().producer("test").unwrap();
    produce(&producer, &envelope("order-1", 1), None).await;
    eventually(Duration::from_secs(30), "the dead letter", || async {
        counter(&registry, "consumer_dead_lettered_total", None) >= 1.0
    })
    .await;
    handler.broken.store(false, Ordering::SeqCst);
    produce(&producer, &envelope("order-1", 2), None).await;
    produce(&producer, &envelope("order-1", 3), None).await;

    let app = dead_letter_admin(&db, &broker).await;
    eventually(Duration::from_secs(30), "both successors held", || async {
        app.get("/v1/admin/test/dead-letters").await["items"][0]["held_behind"] == 2
    })
    .await;
    assert!(effects(&db).await.is_empty());
    let id = app.get("/v1/admin/test/dead-letters").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.post(&format!("/v1/admin/test/dead-letters/{id}/skip"))
            .await,
        200
    );
    eventually(
        Duration::from_secs(30),
        "the held events applied",
        || async { effects(&db).await.len() == 2 },
    )
    .await;
    let seqs: Vec<i64> = effects(&db).await.into_iter().map(|e| e.1).collect();
    assert_eq!(seqs, [2, 3], "the skipped one never, the rest in order");
    assert_eq!(
        app.post(&format!("/v1/admin/test/dead-letters/{id}/skip"))
            .await,
        409,
        "once only"
    );
    consumer.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_event_whose_predecessor_never_comes_is_held_without_stopping_its_partition_and_the_gap_is_reported()
 {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 1).await;
    let db = database().await;
    let registry = prometheus::Registry::new();
    let group = group();
    let consumer = runtime(
        &broker,
        &group,
        &db,
        EffectHandler::default(),
        Arc::new(LocalSequencer::new()),
        &registry,
        ConsumerSettings {
            gap_timeout_ms: 1_000,
            ..quick()
        },
    );
    let producer = broker.settings().producer("test").unwrap();
    // order-1's first event is lost (retention, say): only its second and third come.
    produce(&producer, &envelope("order-1", 2), None).await;
    produce(&producer, &envelope("order-1", 3), None).await;
    for n in 0..20 {
        produce(&producer, &envelope(&format!("other-{n}"), 1), None).await;
    }
    eventually(
        Duration::from_secs(30),
        "the other keys applied",
        || async { effects(&db).await.len() == 20 },
    )
    .await;
    // The partition's commits go past the held events: nothing is left to replay.
    eventually(
        Duration::from_secs(30),
        "offsets committed to the end",
        || async { committed_offset(&broker, &group).await == Some(22) },
    )
    .await;

    let app = dead_letter_admin(&db, &broker).await;
    eventually(Duration::from_secs(30), "the gap reported", || async {
        app.get("/v1/admin/test/dead-letters").await["total"] == 1
    })
    .await;
    let gap = app.get("/v1/admin/test/dead-letters").await["items"][0].clone();
    assert_eq!(gap["event_type"], "gap");
    assert_eq!(gap["key"], "order-1");
    assert_eq!(gap["held_behind"], 2);
    let id = gap["id"].as_str().unwrap();
    assert_eq!(
        app.post(&format!("/v1/admin/test/dead-letters/{id}/replay"))
            .await,
        409,
        "nothing to replay"
    );
    assert_eq!(
        app.post(&format!("/v1/admin/test/dead-letters/{id}/skip"))
            .await,
        200
    );
    eventually(
        Duration::from_secs(30),
        "the held events applied",
        || async { effects(&db).await.len() == 22 },
    )
    .await;
    let order_1: Vec<i64> = effects(&db)
        .await
        .into_iter()
        .filter(|effect| effect.0 == "order-1")
        .map(|effect| effect.1)
        .collect();
    assert_eq!(order_1, [2, 3]);
    let every: serde_json::Value = app
        .get("/v1/admin/test/dead-letters?include_replayed=true")
        .await;
    assert_eq!(
        every["total"], 1,
        "reported once, however many rounds saw it"
    );
    assert_eq!(every["items"][0]["resolution"], "skipped");
    consumer.shutdown(Duration::from_secs(5)).await;
}

/// The dead-letter admin routes over `db`, under `/v1/admin/test`, as a service mounts them.
async fn dead_letter_admin(
    db: &DatabaseConnection,
    broker: &TestBroker,
) -> crate::support::AdminApp {
    use actix_web::web;
    use platform::consumer::dead_letters::{DeadLetterAdmin, configure};
    let admin =
        web::Data::new(DeadLetterAdmin::new(db.clone(), &broker.settings(), "admin").unwrap());
    crate::support::admin_app(move |cfg| {
        cfg.app_data(admin.clone());
        cfg.service(utoipa_actix_web::scope::scope("/v1/admin/test").configure(configure));
    })
    .await
}

/// The offset `group` has committed on the test topic's partition 0.
async fn committed_offset(broker: &TestBroker, group: &str) -> Option<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &broker.brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition(TOPIC, 0);
    let committed = tokio::task::spawn_blocking(move || {
        consumer.committed_offsets(list, Duration::from_secs(5))
    })
    .await
    .unwrap()
    .ok()?;
    match committed.find_partition(TOPIC, 0)?.offset() {
        rdkafka::Offset::Offset(offset) => Some(offset),
        _ => None,
    }
}

/// Fails with `Unavailable` for one aggregate (`*`: every one) while its downstream is "down".
#[derive(Clone, Default)]
struct DownstreamHandler {
    down_for: Arc<std::sync::Mutex<Option<String>>>,
    inner: EffectHandler,
}

#[async_trait::async_trait]
impl platform::consumer::Handle<Counted> for DownstreamHandler {
    async fn handle(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        event: Counted,
        incoming: &platform::consumer::IncomingEvent,
    ) -> Result<(), platform::consumer::HandlerError> {
        let down_for = self.down_for.lock().unwrap().clone();
        if down_for.is_some_and(|down| down == "*" || down == incoming.envelope.aggregate_id) {
            return Err(platform::consumer::HandlerError::Unavailable(
                "quote is down".into(),
            ));
        }
        self.inner.handle(txn, event, incoming).await
    }
}

#[tokio::test]
async fn a_key_whose_downstream_is_down_waits_alone_and_resumes_when_it_is_back() {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 1).await;
    let db = database().await;
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let sequencer: Arc<dyn Sequencer> = Arc::new(
        RedisSequencer::new(&shared_redis_url(), &prefix, Duration::from_secs(5)).unwrap(),
    );
    let handler = DownstreamHandler::default();
    *handler.down_for.lock().unwrap() = Some("order-stuck".into());
    let registry = prometheus::Registry::new();
    let consumer = ConsumerRuntime::new(
        &broker.settings(),
        &group(),
        &[TOPIC],
        db.clone(),
        Handlers::new().on::<Counted, _>(handler.clone()),
        sequencer,
        &registry,
    )
    .with_settings(quick())
    .start()
    .unwrap();

    // One partition: the stuck key's events come first, the others after them.
    let producer = broker.settings().producer("test").unwrap();
    produce(&producer, &envelope("order-stuck", 1), None).await;
    produce(&producer, &envelope("order-stuck", 2), None).await;
    for key in 0..5 {
        produce(&producer, &envelope(&format!("order-{key}"), 1), None).await;
    }
    eventually(Duration::from_secs(30), "the other keys flow", || async {
        effects(&db).await.len() == 5
    })
    .await;

    // The stuck key is waiting in the sequencer's schedule, not dead-lettered.
    let redis = redis::Client::open(shared_redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the key is rescheduled in Redis",
        || {
            let mut redis = redis.clone();
            let prefix = prefix.clone();
            async move {
                let score: Option<f64> = redis::cmd("ZSCORE")
                    .arg(format!("{prefix}:seq:delayed"))
                    .arg("order-stuck")
                    .query_async(&mut redis)
                    .await
                    .unwrap();
                score.is_some()
            }
        },
    )
    .await;
    assert_eq!(
        counter(&registry, "consumer_dead_lettered_total", None),
        0.0
    );

    *handler.down_for.lock().unwrap() = None;
    eventually(
        Duration::from_secs(30),
        "the stuck key catches up",
        || async { effects(&db).await.len() == 7 },
    )
    .await;
    let stuck: Vec<i64> = effects(&db)
        .await
        .into_iter()
        .filter(|effect| effect.0 == "order-stuck")
        .map(|effect| effect.1)
        .collect();
    assert_eq!(stuck, [1, 2]);
    consumer.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_consumer_at_its_in_flight_bound_takes_no_more_until_half_is_done_and_loses_or_repeats_nothing()
 {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 2).await;
    let db = database().await;
    let producer = broker.settings().producer("test").unwrap();
    // A backlog waiting before the consumer starts: 30 orders, 10 events each.
    for seq in 1..=10 {
        for order in 0..30 {
            produce(&producer, &envelope(&format!("order-{order}"), seq), None).await;
        }
    }

    let registry = prometheus::Registry::new();
    let bounded = ConsumerSettings {
        max_in_flight: 8,
        max_concurrent: 2,
        ..quick()
    };
    let consumer = runtime(
        &broker,
        &group(),
        &db,
        EffectHandler::default(),
        Arc::new(LocalSequencer::new()),
        &registry,
        bounded,
    );
    eventually(
        Duration::from_secs(90),
        "the whole backlog applied",
        || async { effects(&db).await.len() >= 300 },
    )
    .await;

    assert!(
        counter(&registry, "consumer_pauses_total", None) >= 1.0,
        "the consumer held back at its bound"
    );
    assert_no_dead_letters(&db).await;
    let effects = effects(&db).await;
    assert_eq!(effects.len(), 300, "nothing repeated");
    let mut by_order: HashMap<String, Vec<i64>> = HashMap::new();
    for (aggregate, seq, position, _) in effects {
        assert_eq!(seq, position, "{aggregate}: applied in sequence");
        by_order.entry(aggregate).or_default().push(seq);
    }
    assert_eq!(by_order.len(), 30);
    for (order, seqs) in by_order {
        assert_eq!(
            seqs,
            (1..=10).collect::<Vec<i64>>(),
            "{order}: every event once, in order"
        );
    }
    consumer.shutdown(Duration::from_secs(5)).await;
}

fn gauge(registry: &prometheus::Registry, name: &str) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric().to_vec())
        .map(|metric| metric.get_gauge().get_value())
        .sum()
}

#[tokio::test]
async fn a_consumer_whose_events_stay_stuck_at_its_bound_pauses_its_partitions_and_resumes_without_loss()
 {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 2).await;
    let db = database().await;
    let handler = DownstreamHandler::default();
    *handler.down_for.lock().unwrap() = Some("*".into());
    let registry = prometheus::Registry::new();
    let consumer = ConsumerRuntime::new(
        &broker.settings(),
        &group(),
        &[TOPIC],
        db.clone(),
        Handlers::new().on::<Counted, _>(handler.clone()),
        Arc::new(LocalSequencer::new()),
        &registry,
    )
    .with_settings(ConsumerSettings {
        max_in_flight: 4,
        ..quick()
    })
    .start()
    .unwrap();
    let producer = broker.settings().producer("test").unwrap();
    for seq in 1..=3 {
        for order in 0..20 {
            produce(&producer, &envelope(&format!("order-{order}"), seq), None).await;
        }
    }

    eventually(Duration::from_secs(30), "the partitions paused", || async {
        gauge(&registry, "consumer_paused") == 1.0
    })
    .await;
    assert!(effects(&db).await.is_empty(), "nothing applied while down");

    *handler.down_for.lock().unwrap() = None;
    eventually(Duration::from_secs(60), "every event applied", || async {
        effects(&db).await.len() >= 60
    })
    .await;
    eventually(
        Duration::from_secs(10),
        "the partitions resumed",
        || async { gauge(&registry, "consumer_paused") == 0.0 },
    )
    .await;
    assert_no_dead_letters(&db).await;
    let effects = effects(&db).await;
    assert_eq!(effects.len(), 60, "nothing repeated");
    for (aggregate, seq, position, _) in effects {
        assert_eq!(seq, position, "{aggregate}: applied in sequence");
    }
    consumer.shutdown(Duration::from_secs(5)).await;
}

/// An event of `seq` on `aggregate` of a type the test consumer has no handler for.
fn unhandled(aggregate: &str, seq: u64) -> events::Envelope {
    let mut envelope = envelope(aggregate, seq);
    envelope.event_type = "NothingHereHandlesThis".to_owned();
    envelope
}

async fn last_applied(db: &DatabaseConnection, group: &str, aggregate: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT last_seq FROM aggregate_progress WHERE consumer = $1 AND aggregate_id = $2"
        }
        _ => "SELECT last_seq FROM aggregate_progress WHERE consumer = ? AND aggregate_id = ?",
    };
    db.query_one_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [group.into(), aggregate.into()],
    ))
    .await
    .unwrap()
    .map_or(0, |row| row.try_get::<i64>("", "last_seq").unwrap())
}

#[tokio::test]
async fn events_no_handler_takes_move_their_key_on_without_a_lease_and_still_keep_its_sequence() {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 1).await;
    let db = database().await;
    let mut redis = PrivateRedis::start();
    let sequencer: Arc<dyn Sequencer> =
        Arc::new(RedisSequencer::new(&redis.url(), "private", Duration::from_secs(2)).unwrap());
    let group = group();
    let registry = prometheus::Registry::new();
    let consumer = runtime(
        &broker,
        &group,
        &db,
        EffectHandler::default(),
        sequencer,
        &registry,
        quick(),
    );
    let producer = broker.settings().producer("test").unwrap();

    // With the sequencer away, events nothing here handles still take their places: they
    // change nothing but their key's progress, which needs no lease.
    redis.stop();
    for seq in 1..=3 {
        produce(&producer, &unhandled("order-quiet", seq), None).await;
    }
    eventually(Duration::from_secs(30), "three events passed", || async {
        last_applied(&db, &group, "order-quiet").await == 3
    })
    .await;
    assert!(effects(&db).await.is_empty());

    // Back with the sequencer: a duplicate of a passed event changes nothing; one that
    // comes before its predecessor waits for it; a handled event between them applies once.
    redis.restart();
    produce(&producer, &unhandled("order-quiet", 2), None).await;
    produce(&producer, &unhandled("order-quiet", 6), None).await;
    produce(&producer, &envelope("order-quiet", 4), None).await;
    eventually(Duration::from_secs(30), "the handled event", || async {
        effects(&db).await.len() == 1
    })
    .await;
    assert_eq!(
        last_applied(&db, &group, "order-quiet").await,
        4,
        "the event of slot 6 waits for slot 5"
    );
    produce(&producer, &unhandled("order-quiet", 5), None).await;
    eventually(Duration::from_secs(30), "slots 5 and 6 passed", || async {
        last_applied(&db, &group, "order-quiet").await == 6
    })
    .await;
    eventually(Duration::from_secs(30), "the duplicate counted", || async {
        counter(&registry, "consumer_events_total", Some("duplicate")) >= 1.0
    })
    .await;
    let applied = effects(&db).await;
    assert_eq!(applied.len(), 1, "one effect: {applied:?}");
    assert_eq!((applied[0].0.as_str(), applied[0].1), ("order-quiet", 4));
    assert_eq!(
        counter(&registry, "consumer_events_total", Some("held")),
        1.0
    );
    assert_no_dead_letters(&db).await;
    consumer.shutdown(Duration::from_secs(5)).await;
}
