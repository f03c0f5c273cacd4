//! The catalog read model fed by `catalog.events` over a real (embedded) broker: quotes are
//! priced from it without asking the catalog.

use std::time::Duration;

use events::catalog::{
    AnswerOption, Deduction, ModelPublished, ModelRetired, Money, Question, QuestionnaireReplaced,
    Variant, VariantPriceChanged, deduction,
};
use events::{Envelope, Event};
use platform::testing::{TestBroker, eventually};
use prost::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{BASE_PRICE, TestApp, TestOptions, spawn_app_with, spawn_catalog};

const WAIT: Duration = Duration::from_secs(60);

async fn broker() -> TestBroker {
    let broker = TestBroker::start();
    broker
        .create_topics(
            &[events::topics::CATALOG_EVENTS, events::topics::QUOTE_EVENTS],
            2,
        )
        .await;
    broker
}

async fn quote_app(broker: &TestBroker) -> TestApp {
    spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await
}

/// Produces `event` as the catalog's relay would.
async fn produce<E: Event>(
    producer: &FutureProducer,
    key: &str,
    seq: u64,
    event: &E,
    occurred_at: chrono::DateTime<chrono::Utc>,
) {
    let envelope = Envelope::wrap_at(event, key, seq, "catalog", "", occurred_at);
    let payload = envelope.encode_to_vec();
    producer
        .send(
            FutureRecord::to(events::topics::CATALOG_EVENTS)
                .key(key)
                .payload(payload.as_slice()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

struct Phone {
    model_id: Uuid,
    variant_id: Uuid,
    screen: Uuid,
    flawless: Uuid,
    cracked: Uuid,
}

impl Phone {
    fn new() -> Self {
        Self {
            model_id: Uuid::new_v4(),
            variant_id: Uuid::new_v4(),
            screen: Uuid::new_v4(),
            flawless: Uuid::new_v4(),
            cracked: Uuid::new_v4(),
        }
    }

    fn variant(&self, price: i64) -> Variant {
        Variant {
            variant_id: self.variant_id.to_string(),
            name: "128 GB".into(),
            base_price: Some(Money {
                amount_minor: price,
                currency: "INR".into(),
            }),
        }
    }

    fn published(&self, price: i64) -> ModelPublished {
        ModelPublished {
            model_id: self.model_id.to_string(),
            brand: "Acme".into(),
            name: "Rocket".into(),
            category: "phone".into(),
            release_year: 2024,
            variants: vec![self.variant(price)],
        }
    }

    /// One question: screen flawless (0) or cracked (`cracked_basis_points`).
    fn questionnaire(&self, cracked_basis_points: u32) -> QuestionnaireReplaced {
        let option = |id: Uuid, key: &str, basis_points: u32| AnswerOption {
            option_id: id.to_string(),
            key: key.into(),
            label: key.into(),
            deduction: Some(Deduction {
                kind: Some(deduction::Kind::PercentageBasisPoints(basis_points)),
            }),
        };
        QuestionnaireReplaced {
            category: "phone".into(),
            questions: vec![Question {
                question_id: self.screen.to_string(),
                key: "screen".into(),
                text: "Screen?".into(),
                options: vec![
                    option(self.flawless, "flawless", 0),
                    option(self.cracked, "cracked", cracked_basis_points),
                ],
            }],
        }
    }

    fn request(&self, cracked: bool) -> Value {
        let option = if cracked { self.cracked } else { self.flawless };
        json!({
            "variant_id": self.variant_id,
            "answers": [{"question_id": self.screen, "option_id": option}],
            "pincode": "560001",
        })
    }
}

/// Posts the quote request until it is answered `status` (the event may still be on its way).
async fn eventually_quoted(app: &TestApp, body: &Value, status: u16) -> Value {
    let last = std::sync::Mutex::new(Value::Null);
    eventually(WAIT, &format!("a {status} answer to {body}"), || async {
        let response = app.post_quote(body).await;
        let got = response.status().as_u16();
        *last.lock().unwrap() = response.json().await.unwrap_or(Value::Null);
        got == status
    })
    .await;
    last.into_inner().unwrap()
}

#[tokio::test]
async fn quotes_are_priced_from_catalog_events_without_asking_the_catalog() {
    let broker = broker().await;
    let app = quote_app(&broker).await;
    let producer = broker.settings().producer("catalog-test").unwrap();
    let phone = Phone::new();
    let now = chrono::Utc::now();
    produce(
        &producer,
        "questionnaire:phone",
        0,
        &phone.questionnaire(2500),
        now,
    )
    .await;
    produce(
        &producer,
        &phone.model_id.to_string(),
        1,
        &phone.published(3_000_000),
        now,
    )
    .await;

    let quote = eventually_quoted(&app, &phone.request(true), 201).await;
    assert_eq!(quote["price"]["amount_minor"], 3_000_000 - 750_000);

    produce(
        &producer,
        &phone.model_id.to_string(),
        2,
        &VariantPriceChanged {
            model_id: phone.model_id.to_string(),
            variant: Some(phone.variant(2_000_000)),
        },
        now,
    )
    .await;
    eventually(WAIT, "the new base price in new quotes", || async {
        let quote = app.create_quote(&phone.request(false)).await;
        quote["price"]["amount_minor"] == 2_000_000
    })
    .await;

    produce(
        &producer,
        &phone.model_id.to_string(),
        3,
        &ModelRetired {
            model_id: phone.model_id.to_string(),
        },
        now,
    )
    .await;
    let problem = eventually_quoted(&app, &phone.request(false), 409).await;
    assert_eq!(problem["code"], "device_retired");
}

#[tokio::test]
async fn an_older_questionnaire_snapshot_never_replaces_a_newer_one() {
    let broker = broker().await;
    let app = quote_app(&broker).await;
    let producer = broker.settings().producer("catalog-test").unwrap();
    let phone = Phone::new();
    let now = chrono::Utc::now();
    produce(
        &producer,
        &phone.model_id.to_string(),
        1,
        &phone.published(1_000_000),
        now,
    )
    .await;
    produce(
        &producer,
        "questionnaire:phone",
        0,
        &phone.questionnaire(1000),
        now,
    )
    .await;
    // Delivered later, but stated earlier: stale.
    let earlier = now - chrono::Duration::hours(1);
    produce(
        &producer,
        "questionnaire:phone",
        0,
        &phone.questionnaire(5000),
        earlier,
    )
    .await;
    eventually(WAIT, "all three events handled", || async {
        use sea_orm::{EntityTrait, PaginatorTrait};
        platform::event_tables::processed_event::Entity::find()
            .count(&app.db)
            .await
            .unwrap()
            == 3
    })
    .await;
    let quote = app.create_quote(&phone.request(true)).await;
    assert_eq!(quote["price"]["amount_minor"], 1_000_000 - 100_000);
}

#[tokio::test]
async fn a_catalog_change_travels_over_the_broker_into_new_quotes() {
    let broker = broker().await;
    let catalog = spawn_catalog(Some(&broker.brokers)).await;
    // The quote service cannot reach the catalog over HTTP: only events can tell it.
    let app = quote_app(&broker).await;
    let questionnaire = catalog.put_questionnaire("phone").await;
    let model = catalog.create_model("Acme", "phone", BASE_PRICE).await;
    let body = json!({
        "variant_id": model["variants"][0]["id"],
        "answers": questionnaire.flawless(),
        "pincode": "560001",
    });
    let quote = eventually_quoted(&app, &body, 201).await;
    assert_eq!(quote["price"]["amount_minor"], BASE_PRICE);

    let variant = model["variants"][0]["id"].as_str().unwrap();
    catalog
        .admin(
            Method::PATCH,
            &format!("/v1/admin/catalog/variants/{variant}"),
            Some(json!({"base_price": {"amount_minor": 4_000_000, "currency": "INR"}})),
        )
        .await;
    eventually(WAIT, "the catalog's new price in new quotes", || async {
        let quote = app.create_quote(&body).await;
        quote["price"]["amount_minor"] == 4_000_000
    })
    .await;
}
