//! Catalog changes leave through the transactional outbox as `catalog.events`.

use std::time::Duration;

use events::Envelope;
use events::catalog::{ModelPublished, ModelRetired, VariantPriceChanged};
use platform::event_tables::outbox;
use platform::testing::TestBroker;
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use crate::helpers::{TestOptions, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_admin_write_stores_its_event_in_the_same_transaction() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let id = created["id"].as_str().unwrap();

    // A refused write (duplicate name) stores no event.
    let refused = app
        .admin(Method::POST, "/v1/admin/catalog/models")
        .json(
            &json!({"brand": "acme", "name": "ROCKET", "category": "phone", "release_year": 2023}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);

    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let rows = outbox::Entity::find().all(&db).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].event_type, "catalog.ModelPublished");
    assert_eq!(rows[0].aggregate_id, id);
    assert_eq!(rows[0].topic, "catalog.events");
    assert!(
        rows[0].sent_at.is_none(),
        "no broker configured: it waits in the outbox"
    );
    let envelope = Envelope::decode(rows[0].payload.as_slice()).unwrap();
    let event: ModelPublished = envelope.open().unwrap();
    assert_eq!(event.brand, "Acme");
    assert_eq!(
        event.variants[0].base_price.as_ref().unwrap().amount_minor,
        100_000
    );
    assert_eq!(envelope.aggregate_seq, 1);
}

#[tokio::test]
async fn every_kind_of_admin_write_publishes_its_event() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    let calls = [
        (
            Method::PATCH,
            format!("/v1/admin/catalog/models/{id}"),
            Some(json!({"name": "Rocket II"})),
        ),
        (
            Method::POST,
            format!("/v1/admin/catalog/models/{id}/variants"),
            Some(json!({"name": "256 GB", "base_price": {"amount_minor": 5, "currency": "INR"}})),
        ),
        (
            Method::DELETE,
            format!("/v1/admin/catalog/variants/{variant}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/admin/catalog/models/{id}"),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let mut request = app.admin(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert!(
            request.send().await.unwrap().status().is_success(),
            "{path}"
        );
    }
    let questionnaire = json!({"questions": [{"key": "screen", "text": "Screen?", "options": [
        {"key": "good", "label": "Good", "deduction": {"kind": "percentage", "basis_points": 0}},
        {"key": "bad", "label": "Bad", "deduction": {"kind": "absolute", "amount_minor": 10}}]}]});
    app.admin(Method::PUT, "/v1/admin/catalog/questionnaires/phone")
        .json(&questionnaire)
        .send()
        .await
        .unwrap();

    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let rows = outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let kinds: Vec<(&str, u64)> = rows
        .iter()
        .map(|row| {
            let envelope = Envelope::decode(row.payload.as_slice()).unwrap();
            (row.event_type.as_str(), envelope.aggregate_seq)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("catalog.ModelPublished", 1),
            ("catalog.ModelPublished", 2),
            ("catalog.VariantPriceChanged", 3),
            ("catalog.VariantRemoved", 4),
            ("catalog.ModelRetired", 5),
            ("catalog.QuestionnaireReplaced", 0),
        ]
    );
    let model_rows = outbox::Entity::find()
        .filter(outbox::Column::AggregateId.eq(id))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(
        model_rows.len(),
        5,
        "model events are keyed by the model id"
    );
}

#[tokio::test]
async fn catalog_events_reach_the_broker_in_the_models_order() {
    let broker = TestBroker::start();
    broker.create_topics(&["catalog.events"], 3).await;
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;
    let ready = app.get_json("/health/ready").await;
    assert_eq!(ready["checks"]["broker"], "ok");

    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.admin(
        Method::PATCH,
        &format!("/v1/admin/catalog/variants/{variant}"),
    )
    .json(&json!({"base_price": {"amount_minor": 90_000, "currency": "INR"}}))
    .send()
    .await
    .unwrap();
    app.admin(Method::DELETE, &format!("/v1/admin/catalog/models/{id}"))
        .send()
        .await
        .unwrap();

    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &broker.brokers)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["catalog.events"]).unwrap();
    // Delivery is at least once (a relay that dies between send and mark resends);
    // consumers deduplicate by event id, so does this reader.
    let mut received: Vec<Envelope> = Vec::new();
    while received.len() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("catalog events arrive")
            .unwrap();
        assert_eq!(message.key(), Some(id.as_bytes()));
        let envelope = Envelope::decode(message.payload().unwrap()).unwrap();
        if received
            .iter()
            .all(|seen| seen.event_id != envelope.event_id)
        {
            received.push(envelope);
        }
    }
    assert_eq!(
        received.iter().map(|e| e.aggregate_seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let published: ModelPublished = received[0].open().unwrap();
    assert_eq!(published.name, "Rocket");
    let repriced: VariantPriceChanged = received[1].open().unwrap();
    assert_eq!(
        repriced.variant.unwrap().base_price.unwrap().amount_minor,
        90_000
    );
    let retired: ModelRetired = received[2].open().unwrap();
    assert_eq!(retired.model_id, id);
}
