//! Each consumer's real handlers fed the messages of its pact. The messages are the JSON
//! form of the events (see [`crate::event_json`]); each is encoded as the producer would,
//! wrapped in an envelope and applied through the consumer's own [`Applier`], and what the
//! handler did is asserted, so the pact holds only fields the handler really reads.

use events::order as order_events;
use fulfilment::domain::JobKind;
use pact_consumer::prelude::*;
use platform::consumer::{Applied, Applier, IncomingEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::event_json::EventJson;
use crate::support::{UUID, assert_pact_is_committed, migrated, scratch_dir};
use crate::worlds::{Fulfilment, Order};

const DATE: &str = r"^\d{4}-\d{2}-\d{2}$";
const PINCODE: &str = r"^[1-9][0-9]{5}$";

/// Applies `payload` of `event_type` about `aggregate_id` at `seq` (0: unsequenced), as
/// `producer` sent it now.
pub(crate) async fn apply_at(
    applier: &Applier,
    producer: &str,
    event_type: &str,
    (aggregate_id, seq): (&str, u64),
    payload: Vec<u8>,
) -> Applied {
    let incoming = IncomingEvent {
        envelope: events::Envelope {
            event_id: Uuid::now_v7().to_string(),
            event_type: event_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            aggregate_seq: seq,
            occurred_at: Some(std::time::SystemTime::now().into()),
            producer: producer.to_owned(),
            traceparent: String::new(),
            payload,
        },
        topic: format!("{producer}.events"),
        partition: 0,
        offset: 0,
        replay: false,
    };
    applier
        .apply(1, &incoming)
        .await
        .unwrap_or_else(|error| panic!("{event_type} was refused: {error}"))
}

/// [`apply_at`] unsequenced.
pub(crate) async fn apply(
    applier: &Applier,
    producer: &str,
    event_type: &str,
    aggregate_id: &str,
    payload: Vec<u8>,
) -> Applied {
    apply_at(applier, producer, event_type, (aggregate_id, 0), payload).await
}

/// The message's event type (its `event_type` metadata) and its JSON.
fn opened(message: &pact_models::v4::async_message::AsynchronousMessage) -> (String, Value) {
    let event_type = message.contents.metadata["event_type"]
        .as_str()
        .expect("an event_type")
        .to_owned();
    let body = message.contents.contents.value().expect("a body");
    (event_type, serde_json::from_slice(&body).expect("JSON"))
}

#[tokio::test]
async fn fulfilment_opens_cancels_and_returns_trade_ins_from_order_events() {
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("fulfilment", "order-events");
    pact.with_output_dir(&scratch)
        .message_interaction("an order confirmed", |mut i| {
            i.given("an order confirmed after its quote was locked");
            i.metadata("event_type", "order.OrderConfirmed");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "0b6f1e2a-3c4d-4e5f-8a9b-0c1d2e3f4a01"),
                "quote_id": term!(UUID, "0b6f1e2a-3c4d-4e5f-8a9b-0c1d2e3f4a10"),
                "variant_id": term!(UUID, "0b6f1e2a-3c4d-4e5f-8a9b-0c1d2e3f4a11"),
                "pickup": {
                    "address": like!("12 MG Road, Bengaluru"),
                    "pincode": term!(PINCODE, "560001"),
                    "slot_date": term!(DATE, "2026-12-02"),
                    "slot_window": term!("^(morning|afternoon|evening)$", "morning"),
                },
                "quoted_price": { "amount_minor": like!(4_500_000), "currency": like!("INR") },
            }));
            i
        })
        .message_interaction("an order cancelled", |mut i| {
            i.given("an order cancelled by its shopper after it was confirmed");
            i.metadata("event_type", "order.OrderCancelled");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "0b6f1e2a-3c4d-4e5f-8a9b-0c1d2e3f4a02"),
                "cancelled_by": term!("^(shopper|admin)$", "shopper"),
            }));
            i
        })
        .message_interaction("a revised price refused", |mut i| {
            i.given("a revised price refused by its shopper");
            i.metadata("event_type", "order.RevisedPriceRefused");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "0b6f1e2a-3c4d-4e5f-8a9b-0c1d2e3f4a03"),
                "return_to": {
                    "address": like!("12 MG Road, Bengaluru"),
                    "pincode": term!(PINCODE, "560001"),
                },
            }));
            i
        });
    let codec = EventJson::load();
    let db = migrated::<fulfilment::migrations::Migrator>("fulfilment").await;
    let applier = Applier::new(
        db.clone(),
        fulfilment::consumers::CONSUMER_GROUP,
        fulfilment::consumers::handlers(),
    );
    let mut seen = Vec::new();
    for message in pact.messages() {
        let (event_type, json) = opened(&message);
        let order_id = json["order_id"].as_str().expect("an order_id").to_owned();
        let order = Uuid::parse_str(&order_id).expect("a UUID");
        if event_type != "order.OrderConfirmed" {
            // What fulfilment has heard of the order before: its confirmation.
            let confirmed = order_events::OrderConfirmed {
                order_id: order_id.clone(),
                shopper_id: "shopper-1".into(),
                quote_id: Uuid::new_v4().to_string(),
                variant_id: Uuid::new_v4().to_string(),
                quoted_price: Some(order_events::Money {
                    amount_minor: 4_500_000,
                    currency: "INR".into(),
                }),
                pickup: Some(order_events::PickupDetails {
                    address: "7 Park Street, Kolkata".into(),
                    pincode: "700016".into(),
                    slot_date: "2026-12-02".into(),
                    slot_window: "morning".into(),
                }),
            };
            use prost::Message as _;
            let payload = confirmed.encode_to_vec();
            let applied = apply(
                &applier,
                "order",
                "order.OrderConfirmed",
                &order_id,
                payload,
            )
            .await;
            assert_eq!(applied, Applied::Applied);
        }
        let payload = codec.to_payload(&event_type, &json);
        let applied = apply(&applier, "order", &event_type, &order_id, payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        let jobs = fulfilment::store::open_jobs_of(&db, order).await.unwrap();
        let kinds: Vec<JobKind> = jobs.iter().map(|job| job.kind).collect();
        match event_type.as_str() {
            "order.OrderConfirmed" => {
                assert_eq!(kinds, [JobKind::Pickup]);
                assert_eq!(jobs[0].pincode, json["pickup"]["pincode"]);
                assert_eq!(jobs[0].slot_window, json["pickup"]["slot_window"]);
                let trade_in = fulfilment::store::trade_in(&db, order).await.unwrap();
                let trade_in = trade_in.expect("a trade-in opened");
                assert_eq!(trade_in.quote_id.to_string(), json["quote_id"]);
                assert_eq!(
                    trade_in.quoted_amount_minor,
                    json["quoted_price"]["amount_minor"]
                );
            }
            "order.OrderCancelled" => assert!(kinds.is_empty(), "{kinds:?}"),
            "order.RevisedPriceRefused" => {
                assert!(kinds.contains(&JobKind::Return), "{kinds:?}");
                let back = jobs.iter().find(|job| job.kind == JobKind::Return).unwrap();
                assert_eq!(back.address, json["return_to"]["address"]);
            }
            other => panic!("fulfilment's pact has no case for {other}"),
        }
        seen.push(event_type);
    }
    assert_eq!(seen.len(), 3);
    assert_pact_is_committed(&scratch, "fulfilment", "order-events");
}

/// A published phone with two variants, as the catalog would announce it, at version 1.
fn published_phone(model_id: &str, variant_id: &str) -> Vec<u8> {
    use prost::Message as _;
    let variant = |id: &str, name: &str| events::catalog::Variant {
        variant_id: id.to_owned(),
        name: name.to_owned(),
        base_price: Some(events::catalog::Money {
            amount_minor: 5_000_000,
            currency: "INR".into(),
        }),
    };
    events::catalog::ModelPublished {
        model_id: model_id.to_owned(),
        brand: "Acme".into(),
        name: format!("Phone {model_id}"),
        category: "phone".into(),
        release_year: 2024,
        variants: vec![
            variant(variant_id, "128 GB"),
            variant(&Uuid::new_v4().to_string(), "256 GB"),
        ],
    }
    .encode_to_vec()
}

#[tokio::test]
async fn quote_keeps_its_catalog_read_model_from_catalog_events() {
    use quote_service::domain::Category;
    use quote_service::store::read_model;

    let money =
        || json_pattern!({ "amount_minor": like!(5_000_000), "currency": term!("^INR$", "INR") });
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("quote", "catalog-events");
    pact.with_output_dir(&scratch)
        .message_interaction("a model published", |mut i| {
            i.given("a phone model published with one variant");
            i.metadata("event_type", "catalog.ModelPublished");
            i.json_body(json_pattern!({
                "model_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e01"),
                "brand": like!("Acme"),
                "name": like!("Phone 1"),
                "category": term!("^(phone|laptop|tablet|watch)$", "phone"),
                "variants": each_like!({
                    "variant_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e11"),
                    "name": like!("128 GB"),
                    "base_price": money(),
                }),
            }));
            i
        })
        .message_interaction("a variant's price changed", |mut i| {
            i.given("a variant's base price changed");
            i.metadata("event_type", "catalog.VariantPriceChanged");
            i.json_body(json_pattern!({
                "model_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e02"),
                "variant": {
                    "variant_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e12"),
                    "name": like!("128 GB"),
                    "base_price": { "amount_minor": like!(4_200_000), "currency": term!("^INR$", "INR") },
                },
            }));
            i
        })
        .message_interaction("a variant removed", |mut i| {
            i.given("a variant removed from a model that keeps another");
            i.metadata("event_type", "catalog.VariantRemoved");
            i.json_body(json_pattern!({
                "model_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e03"),
                "variant_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e13"),
            }));
            i
        })
        .message_interaction("a model retired", |mut i| {
            i.given("a model retired");
            i.metadata("event_type", "catalog.ModelRetired");
            i.json_body(json_pattern!({
                "model_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e04"),
            }));
            i
        })
        .message_interaction("a questionnaire replaced", |mut i| {
            i.given("the watch questionnaire replaced");
            i.metadata("event_type", "catalog.QuestionnaireReplaced");
            i.json_body(json_pattern!({
                "category": term!("^(phone|laptop|tablet|watch)$", "watch"),
                "questions": each_like!({
                    "question_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e21"),
                    "key": like!("screen"),
                    "text": like!("Screen condition?"),
                    "options": each_like!({
                        "option_id": term!(UUID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e22"),
                        "key": like!("flawless"),
                        "label": like!("Flawless"),
                        "deduction": { "percentage_basis_points": like!(1000) },
                    }),
                }),
            }));
            i
        });
    let codec = EventJson::load();
    let db = migrated::<quote_service::migrations::Migrator>("quote").await;
    let applier = Applier::new(
        db.clone(),
        quote_service::consumers::CONSUMER_GROUP,
        quote_service::consumers::handlers(),
    );
    let mut seen = Vec::new();
    for message in pact.messages() {
        let (event_type, json) = opened(&message);
        let payload = codec.to_payload(&event_type, &json);
        if event_type == "catalog.QuestionnaireReplaced" {
            let category = json["category"].as_str().unwrap();
            let applied = apply(&applier, "catalog", &event_type, category, payload).await;
            assert_eq!(applied, Applied::Applied);
            let category = Category::parse(category).unwrap();
            let held = read_model::questionnaire(&db, category).await.unwrap();
            let held = held.expect("the questionnaire is held");
            assert_eq!(
                held.questions[0].id.to_string(),
                json["questions"][0]["question_id"]
            );
            seen.push(event_type);
            continue;
        }
        let model_id = json["model_id"].as_str().unwrap().to_owned();
        let model = Uuid::parse_str(&model_id).unwrap();
        let mut seq = 1;
        if event_type != "catalog.ModelPublished" {
            // What quote has heard of the model before: its publication, at version 1.
            let variant_id = json["variant_id"]
                .as_str()
                .or(json["variant"]["variant_id"].as_str())
                .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
            let first = published_phone(&model_id, &variant_id);
            let applied = apply_at(
                &applier,
                "catalog",
                "catalog.ModelPublished",
                (&model_id, 1),
                first,
            )
            .await;
            assert_eq!(applied, Applied::Applied);
            seq = 2;
        }
        let applied = apply_at(&applier, "catalog", &event_type, (&model_id, seq), payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        let held = read_model::model(&db, model)
            .await
            .unwrap()
            .expect("the model is held");
        let variant = |id: &Value| {
            held.variants
                .iter()
                .find(|variant| variant.id.to_string() == *id)
        };
        match event_type.as_str() {
            "catalog.ModelPublished" => {
                assert_eq!(held.brand, json["brand"]);
                let first = variant(&json["variants"][0]["variant_id"]).expect("the variant");
                assert_eq!(
                    first.base_price.amount_minor,
                    json["variants"][0]["base_price"]["amount_minor"]
                );
            }
            "catalog.VariantPriceChanged" => {
                let changed = variant(&json["variant"]["variant_id"]).expect("the variant");
                assert_eq!(
                    changed.base_price.amount_minor,
                    json["variant"]["base_price"]["amount_minor"]
                );
            }
            "catalog.VariantRemoved" => assert!(variant(&json["variant_id"]).is_none()),
            "catalog.ModelRetired" => assert!(held.retired),
            other => panic!("quote's pact has no case for {other}"),
        }
        seen.push(event_type);
    }
    assert_eq!(seen.len(), 5);
    assert_pact_is_committed(&scratch, "quote", "catalog-events");
}

/// A job as fulfilment announces it on creation, about `order_id`.
pub(crate) fn job_created(order_id: &str, job_id: &str) -> Vec<u8> {
    use prost::Message as _;
    events::fulfilment::JobCreated {
        order_id: order_id.to_owned(),
        job_id: job_id.to_owned(),
        kind: "pickup".into(),
        pincode: "560001".into(),
        address: "12 MG Road, Bengaluru".into(),
        slot_date: "2026-12-02".into(),
        slot_window: "morning".into(),
        variant_id: Uuid::new_v4().to_string(),
    }
    .encode_to_vec()
}

#[tokio::test]
async fn the_portal_keeps_its_jobs_from_fulfilment_events() {
    use partner_portal::store;
    use prost::Message as _;

    const ORDER_A: &str = "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f01";
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("partner-portal", "fulfilment-events");
    pact.with_output_dir(&scratch)
        .message_interaction("a job created", |mut i| {
            i.given("a pickup job created for a confirmed order");
            i.metadata("event_type", "fulfilment.JobCreated");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, ORDER_A),
                "job_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f11"),
                "kind": term!("^(pickup|inspection|return)$", "pickup"),
                "pincode": term!(PINCODE, "560001"),
                "address": like!("12 MG Road, Bengaluru"),
                "slot_date": term!(DATE, "2026-12-02"),
                "slot_window": term!("^(morning|afternoon|evening)$", "morning"),
                "variant_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f21"),
            }));
            i
        })
        .message_interaction("a partner assigned", |mut i| {
            i.given("a pickup job offered to the partner that serves its pincode");
            i.metadata("event_type", "fulfilment.PartnerAssigned");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f02"),
                "job_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f12"),
                "partner_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f31"),
            }));
            i
        })
        .message_interaction("a job unassigned", |mut i| {
            i.given("a pickup job no partner can take");
            i.metadata("event_type", "fulfilment.JobUnassigned");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f03"),
                "job_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f13"),
                "reason": like!("no active partner serves the pincode with capacity left"),
            }));
            i
        })
        .message_interaction("a job's status changed", |mut i| {
            i.given("a pickup job accepted by its partner");
            i.metadata("event_type", "fulfilment.JobStatusChanged");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f04"),
                "job_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f14"),
                "status": term!("^[a-z_]+$", "accepted"),
            }));
            i
        })
        .message_interaction("a job cancelled", |mut i| {
            i.given("a pickup job cancelled with its order");
            i.metadata("event_type", "fulfilment.JobCancelled");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f05"),
                "job_id": term!(UUID, "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f15"),
                "reason": like!("order cancelled by shopper"),
            }));
            i
        });
    let codec = EventJson::load();
    let db = migrated::<partner_portal::migrations::Migrator>("portal").await;
    let applier = Applier::new(
        db.clone(),
        partner_portal::consumers::CONSUMER_GROUP,
        partner_portal::consumers::handlers(),
    );
    let partner = Uuid::new_v4().to_string();
    let mut seen = Vec::new();
    for message in pact.messages() {
        let (event_type, json) = opened(&message);
        let order_id = json["order_id"].as_str().unwrap().to_owned();
        let job_id = json["job_id"].as_str().unwrap().to_owned();
        let mut seq = 1;
        if event_type != "fulfilment.JobCreated" {
            // What the portal has heard of the job before: its creation, and (for a change
            // of status or an unassignment) its offer to a partner.
            let created = job_created(&order_id, &job_id);
            let step = apply_at(
                &applier,
                "fulfilment",
                "fulfilment.JobCreated",
                (&order_id, seq),
                created,
            )
            .await;
            assert_eq!(step, Applied::Applied);
            seq += 1;
            if matches!(
                event_type.as_str(),
                "fulfilment.JobUnassigned" | "fulfilment.JobStatusChanged"
            ) {
                let offered = events::fulfilment::PartnerAssigned {
                    order_id: order_id.clone(),
                    job_id: job_id.clone(),
                    partner_id: partner.clone(),
                    kind: "pickup".into(),
                }
                .encode_to_vec();
                let step = apply_at(
                    &applier,
                    "fulfilment",
                    "fulfilment.PartnerAssigned",
                    (&order_id, seq),
                    offered,
                )
                .await;
                assert_eq!(step, Applied::Applied);
                seq += 1;
            }
        }
        let payload = codec.to_payload(&event_type, &json);
        let applied = apply_at(
            &applier,
            "fulfilment",
            &event_type,
            (&order_id, seq),
            payload,
        )
        .await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        let job = store::job(&db, Uuid::parse_str(&job_id).unwrap())
            .await
            .unwrap()
            .expect("the portal holds the job");
        match event_type.as_str() {
            "fulfilment.JobCreated" => {
                assert_eq!(job.pincode, json["pincode"]);
                assert_eq!(job.slot_window, json["slot_window"]);
                assert_eq!(job.variant_id, json["variant_id"]);
            }
            "fulfilment.PartnerAssigned" => {
                assert_eq!(
                    job.partner_id.map(|id| id.to_string()),
                    json["partner_id"].as_str().map(str::to_owned)
                );
            }
            "fulfilment.JobUnassigned" => assert_eq!(job.partner_id, None),
            "fulfilment.JobStatusChanged" => assert_eq!(job.status.as_str(), json["status"]),
            "fulfilment.JobCancelled" => assert_eq!(job.status.as_str(), "cancelled"),
            other => panic!("the portal's pact has no case for {other}"),
        }
        seen.push(event_type);
    }
    assert_eq!(seen.len(), 5);
    assert_pact_is_committed(&scratch, "partner-portal", "fulfilment-events");
}

#[tokio::test]
async fn fulfilment_moves_jobs_on_partners_reports() {
    use fulfilment::domain::{JobKind, JobStatus};

    const ORDER: &str = "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a01";
    const JOB: &str = "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a11";
    const PARTNER: &str = "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a21";
    let report = || {
        json_pattern!({
            "order_id": term!(UUID, ORDER),
            "job_id": term!(UUID, JOB),
            "partner_id": term!(UUID, PARTNER),
        })
    };
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("fulfilment", "partner-portal-events");
    pact.with_output_dir(&scratch)
        .message_interaction("a job accepted", |mut i| {
            i.given("a pickup job accepted by the logistics partner it was offered to");
            i.metadata("event_type", "partner.JobAccepted");
            i.json_body(report());
            i
        })
        .message_interaction("a job declined", |mut i| {
            i.given("a pickup job declined by the logistics partner it was offered to");
            i.metadata("event_type", "partner.JobDeclined");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, ORDER),
                "job_id": term!(UUID, JOB),
                "partner_id": term!(UUID, PARTNER),
                "reason": like!("no driver that day"),
            }));
            i
        })
        .message_interaction("a pickup reported", |mut i| {
            i.given("an accepted pickup job picked up by its partner");
            i.metadata("event_type", "partner.PickupReported");
            i.json_body(report());
            i
        })
        .message_interaction("a hub delivery reported", |mut i| {
            i.given("a picked-up pickup job delivered to the hub");
            i.metadata("event_type", "partner.HubDeliveryReported");
            i.json_body(report());
            i
        })
        .message_interaction("an inspection reported", |mut i| {
            i.given("an accepted inspection job inspected by its repair partner");
            i.metadata("event_type", "partner.InspectionReported");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, ORDER),
                "job_id": term!(UUID, JOB),
                "partner_id": term!(UUID, PARTNER),
                "answers": each_like!({
                    "question_id": term!(UUID, "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a31"),
                    "option_id": term!(UUID, "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a32"),
                }),
                "notes": like!("hairline crack on the back glass"),
            }));
            i
        })
        .message_interaction("a return delivery reported", |mut i| {
            i.given("a picked-up return job delivered back to the shopper");
            i.metadata("event_type", "partner.ReturnDeliveryReported");
            i.json_body(report());
            i
        });
    let codec = EventJson::load();
    let world = Fulfilment::new().await;
    let mut seen = Vec::new();
    for message in pact.messages() {
        let (event_type, mut json) = opened(&message);
        let order = world.confirm("560001").await;
        let pickup = world.job(&order, JobKind::Pickup).await;
        assert_eq!(pickup.2, world.logistics.to_string());
        let (held, kind) = match event_type.as_str() {
            "partner.JobAccepted" | "partner.JobDeclined" => (pickup, JobKind::Pickup),
            "partner.PickupReported" => {
                world.accepted(&pickup).await;
                (pickup, JobKind::Pickup)
            }
            "partner.HubDeliveryReported" => {
                world.accepted(&pickup).await;
                world.picked_up(&pickup).await;
                (pickup, JobKind::Pickup)
            }
            "partner.InspectionReported" => {
                world.accepted(&pickup).await;
                world.picked_up(&pickup).await;
                world.delivered_to_the_hub(&pickup).await;
                let inspection = world.job(&order, JobKind::Inspection).await;
                assert_eq!(inspection.2, world.repair.to_string());
                world.accepted(&inspection).await;
                (inspection, JobKind::Inspection)
            }
            "partner.ReturnDeliveryReported" => {
                world.refuse_revised_price(&order).await;
                let back = world.job(&order, JobKind::Return).await;
                world.accepted(&back).await;
                world.picked_up(&back).await;
                (back, JobKind::Return)
            }
            other => panic!("fulfilment's pact has no case for {other}"),
        };
        // The message's ids are the pact's examples: the job set up here takes their place.
        let (order_id, job_id, partner_id) = held.clone();
        json["order_id"] = order_id.clone().into();
        json["job_id"] = job_id.clone().into();
        json["partner_id"] = partner_id.clone().into();
        let payload = codec.to_payload(&event_type, &json);
        let applied = apply(
            &world.applier,
            "partner-portal",
            &event_type,
            &order_id,
            payload,
        )
        .await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        let job = fulfilment::store::job(&world.db, Uuid::parse_str(&job_id).unwrap())
            .await
            .unwrap()
            .expect("the job");
        assert_eq!(job.kind, kind);
        match event_type.as_str() {
            "partner.JobAccepted" => assert_eq!(job.status, JobStatus::Accepted),
            "partner.JobDeclined" => {
                assert_ne!(job.partner_id.map(|id| id.to_string()), Some(partner_id));
                assert_eq!(
                    job.status,
                    JobStatus::Unassigned,
                    "the only logistics partner declined"
                );
            }
            "partner.PickupReported" => assert_eq!(job.status, JobStatus::PickedUp),
            "partner.HubDeliveryReported" => {
                assert_eq!(job.status, JobStatus::Completed);
                world.job(&order_id, JobKind::Inspection).await;
            }
            "partner.InspectionReported" => assert_eq!(job.status, JobStatus::InspectionReported),
            "partner.ReturnDeliveryReported" => assert_eq!(job.status, JobStatus::Completed),
            other => panic!("fulfilment's pact has no case for {other}"),
        }
        seen.push(event_type);
    }
    assert_eq!(seen.len(), 6);
    assert_pact_is_committed(&scratch, "fulfilment", "partner-portal-events");
}

#[tokio::test]
async fn order_moves_orders_on_fulfilments_events() {
    use order::domain::{Money, OrderStatus, Step};

    const ORDER: &str = "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b01";
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("order", "fulfilment-events");
    pact.with_output_dir(&scratch)
        .message_interaction("a pickup scheduled", |mut i| {
            i.given("a pickup job accepted by its logistics partner");
            i.metadata("event_type", "fulfilment.PickupScheduled");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, ORDER),
                "partner_id": term!(UUID, "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b21"),
            }));
            i
        })
        .message_interaction("a device picked up", |mut i| {
            i.given("a pickup job picked up by its logistics partner");
            i.metadata("event_type", "fulfilment.DevicePickedUp");
            i.json_body(json_pattern!({ "order_id": term!(UUID, ORDER) }));
            i
        })
        .message_interaction("an inspection completed", |mut i| {
            i.given("an inspected device re-priced by quote");
            i.metadata("event_type", "fulfilment.InspectionCompleted");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, ORDER),
                "final_price": { "amount_minor": like!(4_000_000), "currency": term!("^INR$", "INR") },
            }));
            i
        })
        .message_interaction("a return completed", |mut i| {
            i.given("a return job delivered back to the shopper");
            i.metadata("event_type", "fulfilment.ReturnCompleted");
            i.json_body(json_pattern!({ "order_id": term!(UUID, ORDER) }));
            i
        });
    let codec = EventJson::load();
    let world = Order::new().await;
    let confirm = Step::Confirm {
        variant_id: Uuid::new_v4(),
        quoted: Money::inr(4_500_000),
    };
    let scheduled = Step::SchedulePickup {
        partner_id: Uuid::new_v4(),
    };
    let mut seen = Vec::new();
    for message in pact.messages() {
        let (event_type, mut json) = opened(&message);
        let steps = match event_type.as_str() {
            "fulfilment.PickupScheduled" => vec![confirm.clone()],
            "fulfilment.DevicePickedUp" => vec![confirm.clone(), scheduled.clone()],
            "fulfilment.InspectionCompleted" => {
                vec![confirm.clone(), scheduled.clone(), Step::PickUp]
            }
            "fulfilment.ReturnCompleted" => vec![
                confirm.clone(),
                scheduled.clone(),
                Step::PickUp,
                Step::inspection(Money::inr(4_500_000), Money::inr(4_000_000)),
                Step::RefuseRevisedPrice,
            ],
            other => panic!("order's pact has no case for {other}"),
        };
        let order_id = world.walk(&steps).await;
        // The message's order is the pact's example: the order walked here takes its place.
        json["order_id"] = order_id.to_string().into();
        let payload = codec.to_payload(&event_type, &json);
        let key = order_id.to_string();
        let applied = apply(&world.applier, "fulfilment", &event_type, &key, payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        let order = world.store.get(order_id).await.unwrap();
        match event_type.as_str() {
            "fulfilment.PickupScheduled" => {
                assert_eq!(order.status, OrderStatus::PickupScheduled);
                assert_eq!(
                    order.partner_id.map(|id| id.to_string()),
                    json["partner_id"].as_str().map(str::to_owned)
                );
            }
            "fulfilment.DevicePickedUp" => assert_eq!(order.status, OrderStatus::PickedUp),
            "fulfilment.InspectionCompleted" => {
                assert!(
                    matches!(
                        order.status,
                        OrderStatus::Inspected | OrderStatus::AwaitingShopper
                    ),
                    "{}",
                    order.status
                );
                let final_price = order.final_price.expect("a final price");
                assert_eq!(
                    final_price.amount_minor,
                    json["final_price"]["amount_minor"]
                );
            }
            "fulfilment.ReturnCompleted" => assert_eq!(order.status, OrderStatus::Returned),
            other => panic!("order's pact has no case for {other}"),
        }
        seen.push(event_type);
    }
    assert_eq!(seen.len(), 4);
    assert_pact_is_committed(&scratch, "order", "fulfilment-events");
}

/// Reporting's projection and an applier of its handlers, on a fresh database.
async fn reporting_projection() -> (sea_orm::DatabaseConnection, Applier) {
    let db = migrated::<reporting::migrations::Migrator>("reporting").await;
    let applier = Applier::new(db.clone(), "reporting", reporting::consumers::handlers());
    (db, applier)
}

/// Thirty days from yesterday, UTC: the range the reporting pacts' effects are read over.
fn around_today() -> reporting::domain::ReportRange {
    let today = chrono::Utc::now().date_naive();
    reporting::domain::ReportRange {
        from: today - chrono::Duration::days(1),
        to: today + chrono::Duration::days(30),
    }
}

#[tokio::test]
async fn reporting_projects_orders_from_order_events() {
    use reporting::domain::OrderStatus;

    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("reporting", "order-events");
    pact.with_output_dir(&scratch);
    let order = |n: u8| term!(UUID, format!("6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c{n:02}"));
    let quote_id = term!(UUID, "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8d01");
    let inr =
        |amount: i64| json_pattern!({ "amount_minor": like!(amount), "currency": like!("INR") });
    let messages = [
        (
            "an order placed",
            "an order placed by its shopper",
            "OrderPlaced",
            json_pattern!({ "order_id": order(1), "quote_id": quote_id }),
        ),
        (
            "an order confirmed",
            "an order confirmed after its quote was locked",
            "OrderConfirmed",
            json_pattern!({ "order_id": order(2), "quoted_price": inr(4_500_000) }),
        ),
        (
            "an order rejected",
            "an order rejected because its quote could not be locked",
            "OrderRejected",
            json_pattern!({ "order_id": order(3) }),
        ),
        (
            "an order cancelled",
            "an order cancelled by its shopper after it was confirmed",
            "OrderCancelled",
            json_pattern!({ "order_id": order(4) }),
        ),
        (
            "a pickup scheduled",
            "an order whose pickup was scheduled",
            "OrderPickupScheduled",
            json_pattern!({ "order_id": order(5) }),
        ),
        (
            "an order picked up",
            "an order picked up by its logistics partner",
            "OrderPickedUp",
            json_pattern!({ "order_id": order(6) }),
        ),
        (
            "an order inspected",
            "an order inspected at its quoted price",
            "OrderInspected",
            json_pattern!({ "order_id": order(7), "final_price": inr(4_500_000) }),
        ),
        (
            "a price revised",
            "an order inspected below its quoted price",
            "OrderPriceRevised",
            json_pattern!({ "order_id": order(8), "quoted_price": inr(4_500_000), "revised_price": inr(4_000_000) }),
        ),
        (
            "a revised price accepted",
            "a revised price accepted by its shopper",
            "RevisedPriceAccepted",
            json_pattern!({ "order_id": order(9) }),
        ),
        (
            "a revised price refused",
            "a revised price refused by its shopper",
            "RevisedPriceRefused",
            json_pattern!({ "order_id": order(10) }),
        ),
        (
            "an order completed",
            "an order paid out at its quoted price",
            "OrderCompleted",
            json_pattern!({ "order_id": order(11), "paid": inr(4_500_000) }),
        ),
        (
            "an order returned",
            "a refused order returned to its shopper",
            "OrderReturned",
            json_pattern!({ "order_id": order(12) }),
        ),
    ];
    for (description, state, event, pattern) in messages {
        pact.message_interaction(description, |mut i| {
            i.given(state);
            i.metadata("event_type", format!("order.{event}"));
            i.json_body(pattern);
            i
        });
    }
    let codec = EventJson::load();
    let (db, applier) = reporting_projection().await;
    let mut seen = Vec::new();
    for message in pact.messages() {
        let (event_type, json) = opened(&message);
        let order_id = json["order_id"].as_str().unwrap().to_owned();
        let payload = codec.to_payload(&event_type, &json);
        let applied = apply(&applier, "order", &event_type, &order_id, payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        let order = reporting::store::order(&db, Uuid::parse_str(&order_id).unwrap())
            .await
            .unwrap()
            .expect("reporting holds the order");
        let amount = |field: &str| json[field]["amount_minor"].as_i64();
        match event_type.as_str() {
            "order.OrderPlaced" => {
                assert_eq!(order.status, OrderStatus::Received);
                assert_eq!(
                    order.quote_id.map(|id| id.to_string()).as_deref(),
                    json["quote_id"].as_str()
                );
            }
            "order.OrderConfirmed" => assert_eq!(order.quoted_minor, amount("quoted_price")),
            "order.OrderInspected" => assert_eq!(order.final_minor, amount("final_price")),
            "order.OrderPriceRevised" => {
                assert_eq!(order.status, OrderStatus::AwaitingShopper);
                assert_eq!(order.final_minor, amount("revised_price"));
                assert_eq!(order.quoted_minor, amount("quoted_price"));
            }
            "order.OrderCompleted" => {
                assert_eq!(order.status, OrderStatus::Completed);
                assert_eq!(order.paid_minor, amount("paid"));
                assert_eq!(order.currency.as_deref(), json["paid"]["currency"].as_str());
            }
            "order.OrderRejected" => assert_eq!(order.status, OrderStatus::Rejected),
            "order.OrderCancelled" => assert_eq!(order.status, OrderStatus::Cancelled),
            "order.OrderPickupScheduled" => assert_eq!(order.status, OrderStatus::PickupScheduled),
            "order.OrderPickedUp" => assert_eq!(order.status, OrderStatus::PickedUp),
            "order.RevisedPriceAccepted" => assert_eq!(order.status, OrderStatus::Inspected),
            "order.RevisedPriceRefused" => assert_eq!(order.status, OrderStatus::Returning),
            "order.OrderReturned" => assert_eq!(order.status, OrderStatus::Returned),
            other => panic!("reporting's pact has no case for {other}"),
        }
        seen.push(event_type);
    }
    assert_eq!(seen.len(), 12);
    assert_pact_is_committed(&scratch, "reporting", "order-events");
}

/// The partners report over [`around_today`], by partner id.
async fn partner_figures(
    db: &sea_orm::DatabaseConnection,
    partner_id: &str,
) -> Option<reporting::domain::figures::PartnerFigures> {
    reporting::store::reports::partners(db, around_today())
        .await
        .unwrap()
        .into_iter()
        .find(|partner| partner.partner_id.to_string() == partner_id)
}

/// A pickup job due tomorrow (inside [`around_today`]), as fulfilment creates it.
fn pickup_due_tomorrow(order_id: &str, job_id: &str) -> Vec<u8> {
    use prost::Message as _;
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    events::fulfilment::JobCreated {
        order_id: order_id.to_owned(),
        job_id: job_id.to_owned(),
        kind: "pickup".into(),
        slot_date: tomorrow.to_string(),
        slot_window: "evening".into(),
        ..Default::default()
    }
    .encode_to_vec()
}

#[tokio::test]
async fn reporting_keeps_jobs_offers_and_pickups_from_fulfilment_events() {
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("reporting", "fulfilment-events");
    pact.with_output_dir(&scratch)
        .message_interaction("a job created", |mut i| {
            i.given("a pickup job created for a confirmed order");
            i.metadata("event_type", "fulfilment.JobCreated");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d01"),
                "job_id": term!(UUID, "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d11"),
                "kind": term!("^(pickup|inspection|return)$", "pickup"),
                "slot_date": term!(DATE, "2026-12-02"),
                "slot_window": term!("^(morning|afternoon|evening)$", "morning"),
            }));
            i
        })
        .message_interaction("a partner assigned", |mut i| {
            i.given("a pickup job offered to the partner that serves its pincode");
            i.metadata("event_type", "fulfilment.PartnerAssigned");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d02"),
                "job_id": term!(UUID, "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d12"),
                "partner_id": term!(UUID, "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d31"),
                "kind": term!("^(pickup|inspection|return)$", "pickup"),
            }));
            i
        })
        .message_interaction("a device picked up", |mut i| {
            i.given("a pickup job picked up by its logistics partner");
            i.metadata("event_type", "fulfilment.DevicePickedUp");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d03"),
                "job_id": term!(UUID, "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d13"),
                "partner_id": term!(UUID, "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d32"),
            }));
            i
        });
    let codec = EventJson::load();
    let (db, applier) = reporting_projection().await;
    let mut seen = Vec::new();
    for message in pact.messages() {
        let (event_type, json) = opened(&message);
        let order_id = json["order_id"].as_str().unwrap().to_owned();
        let job_id = json["job_id"].as_str().unwrap().to_owned();
        if event_type == "fulfilment.DevicePickedUp" {
            let created = pickup_due_tomorrow(&order_id, &job_id);
            let step = apply(
                &applier,
                "fulfilment",
                "fulfilment.JobCreated",
                &order_id,
                created,
            )
            .await;
            assert_eq!(step, Applied::Applied);
        }
        let payload = codec.to_payload(&event_type, &json);
        let applied = apply(&applier, "fulfilment", &event_type, &order_id, payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        match event_type.as_str() {
            // A job alone is counted nowhere until a partner holds it; applied is enough.
            "fulfilment.JobCreated" => {}
            "fulfilment.PartnerAssigned" => {
                let partner = partner_figures(&db, json["partner_id"].as_str().unwrap()).await;
                assert_eq!(partner.map(|partner| partner.offers), Some(1));
            }
            "fulfilment.DevicePickedUp" => {
                let partner = partner_figures(&db, json["partner_id"].as_str().unwrap())
                    .await
                    .expect("the partner that picked it up");
                assert_eq!((partner.pickups, partner.on_time_pickups), (1, 1));
            }
            other => panic!("reporting's pact has no case for {other}"),
        }
        seen.push(event_type);
    }
    assert_eq!(seen.len(), 3);
    assert_pact_is_committed(&scratch, "reporting", "fulfilment-events");
}

#[tokio::test]
async fn reporting_keeps_partners_answers_and_pickups_from_partner_events() {
    use prost::Message as _;

    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("reporting", "partner-portal-events");
    pact.with_output_dir(&scratch)
        .message_interaction("a job accepted", |mut i| {
            i.given("a pickup job accepted by the logistics partner it was offered to");
            i.metadata("event_type", "partner.JobAccepted");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e01"),
                "job_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e11"),
                "partner_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e31"),
            }));
            i
        })
        .message_interaction("a job declined", |mut i| {
            i.given("a pickup job declined by the logistics partner it was offered to");
            i.metadata("event_type", "partner.JobDeclined");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e02"),
                "job_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e12"),
                "partner_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e32"),
            }));
            i
        })
        .message_interaction("a pickup reported", |mut i| {
            i.given("an accepted pickup job picked up by its partner");
            i.metadata("event_type", "partner.PickupReported");
            i.json_body(json_pattern!({
                "order_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e03"),
                "job_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e13"),
                "partner_id": term!(UUID, "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e33"),
            }));
            i
        });
    let codec = EventJson::load();
    let (db, applier) = reporting_projection().await;
    let mut seen = Vec::new();
    for message in pact.messages() {
        let (event_type, json) = opened(&message);
        let order_id = json["order_id"].as_str().unwrap().to_owned();
        let job_id = json["job_id"].as_str().unwrap().to_owned();
        let partner_id = json["partner_id"].as_str().unwrap().to_owned();
        // What fulfilment said first: the job, due tomorrow, offered to this partner.
        let created = pickup_due_tomorrow(&order_id, &job_id);
        apply(
            &applier,
            "fulfilment",
            "fulfilment.JobCreated",
            &order_id,
            created,
        )
        .await;
        let offered = events::fulfilment::PartnerAssigned {
            order_id: order_id.clone(),
            job_id: job_id.clone(),
            partner_id: partner_id.clone(),
            kind: "pickup".into(),
        }
        .encode_to_vec();
        apply(
            &applier,
            "fulfilment",
            "fulfilment.PartnerAssigned",
            &order_id,
            offered,
        )
        .await;
        let payload = codec.to_payload(&event_type, &json);
        let applied = apply(&applier, "partner-portal", &event_type, &order_id, payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        let partner = partner_figures(&db, &partner_id)
            .await
            .expect("the partner offered the job");
        let figures = (
            partner.offers,
            partner.accepted,
            partner.declined,
            partner.pickups,
        );
        match event_type.as_str() {
            "partner.JobAccepted" => assert_eq!(figures, (1, 1, 0, 0)),
            "partner.JobDeclined" => assert_eq!(figures, (1, 0, 1, 0)),
            "partner.PickupReported" => assert_eq!(figures, (1, 0, 0, 1)),
            other => panic!("reporting's pact has no case for {other}"),
        }
        seen.push(event_type);
    }
    assert_eq!(seen.len(), 3);
    assert_pact_is_committed(&scratch, "reporting", "partner-portal-events");
}

#[tokio::test]
async fn reporting_counts_quotes_from_quote_events() {
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("reporting", "quote-events");
    pact.with_output_dir(&scratch)
        .message_interaction("a quote issued", |mut i| {
            i.given("a quote issued for a phone");
            i.metadata("event_type", "quote.QuoteIssued");
            i.json_body(json_pattern!({
                "quote_id": term!(UUID, "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f01"),
            }));
            i
        });
    let codec = EventJson::load();
    let (db, applier) = reporting_projection().await;
    let mut seen = 0;
    for message in pact.messages() {
        let (event_type, json) = opened(&message);
        let quote_id = json["quote_id"].as_str().unwrap().to_owned();
        let payload = codec.to_payload(&event_type, &json);
        let applied = apply(&applier, "quote", &event_type, &quote_id, payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
        let stuck_since = chrono::Utc::now();
        let summary = reporting::store::reports::summary(&db, around_today(), stuck_since)
            .await
            .unwrap();
        assert_eq!(summary.quotes_issued, 1);
        seen += 1;
    }
    assert_eq!(seen, 1);
    assert_pact_is_committed(&scratch, "reporting", "quote-events");
}

/// Reporting names an order's status after the event that put it there, in the order
/// service's own words: the two lists, and which of them are final, must stay the same.
#[test]
fn reporting_knows_every_order_status_and_which_are_final_as_order_does() {
    use strum::IntoEnumIterator;
    let order: Vec<(&str, bool)> = order::domain::OrderStatus::iter()
        .map(|status| (status.as_str(), status.is_final()))
        .collect();
    let reporting: Vec<(&str, bool)> = reporting::domain::OrderStatus::iter()
        .map(|status| (status.as_str(), status.is_final()))
        .collect();
    assert_eq!(reporting, order);
}
