use std::collections::HashSet;
use std::time::Duration;

use platform::event_tables::outbox;
use platform::outbox::{OutboxRelay, RelaySettings, publish};
use platform::testing::{TestBroker, eventually};
use rdkafka::Message;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use tokio_util::sync::CancellationToken;

use crate::support::{Counted, TOPIC, counter, database, reader};

fn relay(
    db: &sea_orm::DatabaseConnection,
    broker: &TestBroker,
    registry: &prometheus::Registry,
) -> OutboxRelay {
    OutboxRelay::new(
        db.clone(),
        &broker.settings(),
        "relay-test",
        relay_settings(),
        registry,
    )
    .unwrap()
}

fn relay_settings() -> RelaySettings {
    RelaySettings {
        poll_interval_ms: 10,
        max_backoff_ms: 500,
        ..RelaySettings::default()
    }
}

#[tokio::test]
async fn events_committed_while_the_broker_is_down_are_all_delivered_once_it_is_back() {
    let broker = TestBroker::start();
    let Some(embedded) = broker.embedded() else {
        eprintln!("skipped: taking an external broker down is not possible from a test");
        return;
    };
    broker.create_topics(&[TOPIC], 3).await;
    let db = database().await;
    let registry = prometheus::Registry::new();
    let relay = relay(&db, &broker, &registry);

    embedded.down().unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(relay.run(shutdown.clone()));

    let mut committed = HashSet::new();
    for batch in 0..20 {
        let txn = db.begin().await.unwrap();
        for index in 0..10 {
            let aggregate = format!("agg-{}", index % 7);
            let id = publish(
                &txn,
                "relay-test",
                &aggregate,
                0,
                &Counted {
                    label: format!("{batch}/{index}"),
                },
            )
            .await
            .unwrap();
            committed.insert(id.to_string());
        }
        txn.commit().await.unwrap();
    }
    assert_eq!(committed.len(), 200);

    // The relay tries, fails against the dead broker, and keeps every row.
    eventually(Duration::from_secs(30), "a failed relay round", || async {
        counter(&registry, "outbox_failed_rounds_total", None) >= 1.0
    })
    .await;
    let unsent = outbox::Entity::find()
        .filter(outbox::Column::SentAt.is_null())
        .count(&db)
        .await
        .unwrap();
    assert_eq!(unsent, 200);

    embedded.up().unwrap();
    let consumer = reader(&broker.brokers, TOPIC);
    let mut delivered = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while delivered.len() < committed.len() {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .expect("all events delivered in time")
            .unwrap();
        let envelope =
            <events::Envelope as prost::Message>::decode(message.payload().unwrap()).unwrap();
        delivered.insert(envelope.event_id);
    }
    assert_eq!(delivered, committed);
    eventually(Duration::from_secs(10), "every row marked sent", || async {
        outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .count(&db)
            .await
            .unwrap()
            == 0
    })
    .await;
    shutdown.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_rolled_back_transaction_publishes_nothing() {
    let db = database().await;
    let txn = db.begin().await.unwrap();
    publish(&txn, "relay-test", "agg", 1, &Counted { label: "x".into() })
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(outbox::Entity::find().count(&db).await.unwrap(), 0);
}

#[tokio::test]
async fn sent_rows_are_deleted_after_the_retention() {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 1).await;
    let db = database().await;
    let relay = relay(&db, &broker, &prometheus::Registry::new());
    publish(&db, "relay-test", "agg", 0, &Counted { label: "x".into() })
        .await
        .unwrap();
    publish(&db, "relay-test", "agg", 0, &Counted { label: "y".into() })
        .await
        .unwrap();
    assert_eq!(relay.relay_batch().await.unwrap(), 2);
    publish(
        &db,
        "relay-test",
        "agg",
        0,
        &Counted {
            label: "unsent".into(),
        },
    )
    .await
    .unwrap();

    let deleted = relay
        .delete_sent_before(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let left = outbox::Entity::find().all(&db).await.unwrap();
    assert_eq!(left.len(), 1, "the unsent row stays");
    assert!(left[0].sent_at.is_none());
}

#[tokio::test]
async fn published_events_carry_key_type_and_trace_headers() {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 2).await;
    let db = database().await;
    let relay = relay(&db, &broker, &prometheus::Registry::new());
    let id = publish(
        &db,
        "relay-test",
        "order-42",
        7,
        &Counted { label: "x".into() },
    )
    .await
    .unwrap();
    relay.relay_batch().await.unwrap();

    let consumer = reader(&broker.brokers, TOPIC);
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.key(), Some(&b"order-42"[..]));
    let header = |name: &str| crate::support::header(&message, name);
    assert_eq!(header("event-type").as_deref(), Some("test.Counted"));
    assert_eq!(header("event-id"), Some(id.to_string()));
    assert!(header("traceparent").is_some());
    let envelope =
        <events::Envelope as prost::Message>::decode(message.payload().unwrap()).unwrap();
    assert_eq!(envelope.aggregate_seq, 7);
    assert_eq!(envelope.producer, "relay-test");
}

#[tokio::test]
async fn an_event_the_broker_will_never_take_is_parked_and_the_events_behind_it_still_go_out() {
    let broker = TestBroker::start();
    broker.create_topics(&[TOPIC], 1).await;
    let db = database().await;
    let registry = prometheus::Registry::new();
    let relay = relay(&db, &broker, &registry);

    // Larger than any broker takes by default (message.max.bytes, 1 MB): never sendable.
    let txn = db.begin().await.unwrap();
    let too_large = publish(
        &txn,
        "relay-test",
        "agg-big",
        1,
        &Counted {
            label: "x".repeat(2_000_000),
        },
    )
    .await
    .unwrap();
    let mut behind = HashSet::new();
    for index in 0..3 {
        let id = publish(
            &txn,
            "relay-test",
            &format!("agg-{index}"),
            1,
            &Counted {
                label: format!("behind {index}"),
            },
        )
        .await
        .unwrap();
        behind.insert(id.to_string());
    }
    txn.commit().await.unwrap();

    let moved = relay.relay_batch().await.expect("the round succeeds");
    assert_eq!(moved, 4, "three sent, one parked");
    let parked = outbox::Entity::find()
        .filter(outbox::Column::EventId.eq(too_large))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(parked.parked_at.is_some() && parked.sent_at.is_none());
    assert!(parked.last_error.is_some(), "the broker's reason is kept");
    assert_eq!(
        relay.relay_batch().await.expect("later rounds succeed too"),
        0,
        "a parked row is not tried again by itself"
    );

    let consumer = reader(&broker.brokers, TOPIC);
    let mut delivered = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while delivered.len() < behind.len() {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .expect("the events behind it are delivered")
            .unwrap();
        let envelope =
            <events::Envelope as prost::Message>::decode(message.payload().unwrap()).unwrap();
        delivered.insert(envelope.event_id);
    }
    assert_eq!(delivered, behind);
}
