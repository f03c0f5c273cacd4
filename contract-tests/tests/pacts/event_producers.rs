//! Each producer's real publish code makes the events its consumers' message pacts name.
//! A provider state is a walk of the producer's own domain (for order: an order received,
//! then each step through `OrderRecord::after`, each published by `published::transition`
//! into a fresh database's outbox, as the store does); the last event of the pact's type is
//! read back from the outbox and matched against the pact with Pact's own matching.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use order::domain::{Actor, Money, NewOrder, OrderRecord, PayoutInstructions, PickupRequest, Step};
use pact_models::bodies::OptionalBody;
use pact_models::content_types::ContentType;
use pact_models::interaction::Interaction;
use pact_models::pact::read_pact;
use pact_models::v4::async_message::AsynchronousMessage;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::event_consumers::apply;
use crate::event_json::EventJson;
use crate::providers::{call, spawn_catalog_on};
use crate::support::{committed_pact, migrated};
use platform::auth::Role;
use platform::consumer::{Applied, Applier};
use platform::testing::SpawnedService;
use reqwest::Method;

/// The events in `db`'s outbox (about `aggregate_id`, if given), oldest first, as
/// `(type, JSON)`.
async fn published(
    db: &DatabaseConnection,
    codec: &EventJson,
    aggregate_id: Option<&str>,
) -> Vec<(String, Value)> {
    use platform::event_tables::outbox;
    use prost::Message as _;
    let mut rows = outbox::Entity::find();
    if let Some(aggregate_id) = aggregate_id {
        rows = rows.filter(outbox::Column::AggregateId.eq(aggregate_id));
    }
    rows.order_by_asc(outbox::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let envelope = events::Envelope::decode(row.payload.as_slice()).unwrap();
            let json = codec.to_json(&envelope.event_type, &envelope.payload);
            (envelope.event_type, json)
        })
        .collect()
}

/// The steps of an order's life that lead to the state a pact names.
fn order_steps(state: &str) -> Vec<Step> {
    let confirm = Step::Confirm {
        variant_id: Uuid::new_v4(),
        quoted: Money::inr(4_500_000),
    };
    match state {
        "an order confirmed after its quote was locked" => vec![confirm],
        "an order cancelled by its shopper after it was confirmed" => vec![
            confirm,
            Step::Cancel {
                by: Actor::Shopper,
                reason: "changed my mind".into(),
            },
        ],
        "a revised price refused by its shopper" => vec![
            confirm,
            Step::SchedulePickup {
                partner_id: Uuid::new_v4(),
            },
            Step::PickUp,
            Step::inspection(Money::inr(4_500_000), Money::inr(4_000_000)),
            Step::RefuseRevisedPrice,
        ],
        other => panic!("order has no provider state `{other}`"),
    }
}

/// Walks a new order through `steps`, publishing each as the store does; the order's id.
async fn walk_an_order(db: &DatabaseConnection, steps: &[Step]) -> String {
    let now = Utc::now();
    let today = now.date_naive();
    let pickup = PickupRequest::parse(
        "12 MG Road, Bengaluru",
        "560001",
        today + chrono::Duration::days(2),
        "morning",
        today,
    )
    .unwrap();
    let payout = PayoutInstructions::parse(
        "upi",
        BTreeMap::from([("vpa".to_owned(), "asha@okbank".to_owned())]),
    )
    .unwrap();
    let mut order = OrderRecord::received(
        NewOrder {
            id: Uuid::new_v4(),
            shopper_id: "shopper-1".into(),
            quote_id: Uuid::new_v4(),
            pickup,
            payout,
        },
        now,
    );
    for step in steps {
        order = order.after(step, now).unwrap();
        order::published::transition(db, &order, step)
            .await
            .unwrap();
    }
    order.id.to_string()
}

/// The mismatches between each message of `pact` and the last event of its type that
/// `produce` publishes in the message's provider state, by description (empty: the
/// producer honours the pact). `tamper` changes the published JSON first, to show that the
/// check can fail.
async fn against(
    pact: &Path,
    mut produce: impl AsyncFnMut(&str) -> Vec<(String, Value)>,
    tamper: impl Fn(&str, &mut Value),
) -> Vec<(String, String)> {
    let pact = read_pact(pact).unwrap();
    let mut mismatches = Vec::new();
    for interaction in pact.interactions() {
        let expected: AsynchronousMessage = interaction
            .as_v4_async_message()
            .expect("a message pact holds messages");
        let state = expected
            .provider_states
            .first()
            .map(|state| state.name.clone())
            .unwrap_or_default();
        let wanted = expected.contents.metadata["event_type"].as_str().unwrap();
        let Some((event_type, mut json)) = produce(&state)
            .await
            .into_iter()
            .rfind(|(event_type, _)| event_type == wanted)
        else {
            mismatches.push((
                expected.description.clone(),
                format!("no {wanted} published"),
            ));
            continue;
        };
        tamper(&event_type, &mut json);
        let mut actual = expected.clone();
        actual.contents.contents = OptionalBody::Present(
            json.to_string().into(),
            Some(ContentType::from("application/json")),
            None,
        );
        actual.contents.metadata = [("event_type".to_owned(), json!(event_type))].into();
        let found =
            pact_matching::match_message(&expected.boxed(), &actual.boxed(), &pact.boxed()).await;
        mismatches.extend(
            found
                .into_iter()
                .map(|mismatch| (expected.description.clone(), mismatch.description())),
        );
    }
    mismatches
}

/// [`against`] with order's real publish code.
async fn order_against(pact: &Path, tamper: impl Fn(&str, &mut Value)) -> Vec<(String, String)> {
    let codec = EventJson::load();
    let db = migrated::<order::migrations::Migrator>("order").await;
    let produce = async |state: &str| {
        let order_id = walk_an_order(&db, &order_steps(state)).await;
        published(&db, &codec, Some(&order_id)).await
    };
    against(pact, produce, tamper).await
}

#[tokio::test]
async fn order_publishes_what_fulfilment_reads() {
    let mismatches = order_against(&committed_pact("fulfilment", "order-events"), |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn an_order_confirmed_without_its_pickup_breaks_fulfilments_pact() {
    let mismatches = order_against(
        &committed_pact("fulfilment", "order-events"),
        |event_type, json| {
            if event_type == "order.OrderConfirmed" {
                json.as_object_mut().unwrap().remove("pickup");
            }
        },
    )
    .await;
    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    assert_eq!(mismatches[0].0, "an order confirmed");
    assert!(mismatches[0].1.contains("pickup"), "{mismatches:#?}");
}

/// Brings the catalog into `state` through its admin API.
async fn catalog_state(catalog: &SpawnedService, state: &str) {
    let admin = catalog.token_for("catalog-admin", Role::Admin);
    let variant = |name: &str| json!({"name": name, "base_price": {"amount_minor": 5_000_000, "currency": "INR"}});
    let create = |variants: Vec<Value>| {
        json!({
            "brand": "Acme",
            "name": format!("Phone {}", Uuid::new_v4().simple()),
            "category": "phone",
            "release_year": 2024,
            "variants": variants,
        })
    };
    let models = "/v1/admin/catalog/models";
    match state {
        "a phone model published with one variant" => {
            call(
                catalog,
                &admin,
                Method::POST,
                models,
                Some(create(vec![variant("128 GB")])),
            )
            .await;
        }
        "a variant's base price changed" => {
            let model = call(
                catalog,
                &admin,
                Method::POST,
                models,
                Some(create(vec![variant("128 GB")])),
            )
            .await;
            let id = model["variants"][0]["id"].as_str().unwrap();
            let price = json!({"base_price": {"amount_minor": 4_200_000, "currency": "INR"}});
            call(
                catalog,
                &admin,
                Method::PATCH,
                &format!("/v1/admin/catalog/variants/{id}"),
                Some(price),
            )
            .await;
        }
        "a variant removed from a model that keeps another" => {
            let two = create(vec![variant("128 GB"), variant("256 GB")]);
            let model = call(catalog, &admin, Method::POST, models, Some(two)).await;
            let id = model["variants"][0]["id"].as_str().unwrap();
            call(
                catalog,
                &admin,
                Method::DELETE,
                &format!("/v1/admin/catalog/variants/{id}"),
                None,
            )
            .await;
        }
        "a model retired" => {
            let model = call(
                catalog,
                &admin,
                Method::POST,
                models,
                Some(create(vec![variant("128 GB")])),
            )
            .await;
            let id = model["id"].as_str().unwrap();
            call(
                catalog,
                &admin,
                Method::DELETE,
                &format!("{models}/{id}"),
                None,
            )
            .await;
        }
        "the watch questionnaire replaced" => {
            let option = |key: &str, basis_points: u32| json!({"key": key, "label": key, "deduction": {"kind": "percentage", "basis_points": basis_points}});
            let questions = json!({"questions": [{"key": "screen", "text": "Screen condition?", "options": [option("flawless", 0), option("scratched", 1000)]}]});
            call(
                catalog,
                &admin,
                Method::PUT,
                "/v1/admin/catalog/questionnaires/watch",
                Some(questions),
            )
            .await;
        }
        other => panic!("catalog has no provider state `{other}`"),
    }
}

#[tokio::test]
async fn catalog_publishes_what_quote_reads() {
    let codec = EventJson::load();
    let database_url = platform::testing::fresh_database("catalog").await;
    let catalog = spawn_catalog_on(&database_url).await;
    let db = sea_orm::Database::connect(&database_url).await.unwrap();
    let produce = async |state: &str| {
        catalog_state(&catalog, state).await;
        published(&db, &codec, None).await
    };
    let mismatches = against(
        &committed_pact("quote", "catalog-events"),
        produce,
        |_, _| {},
    )
    .await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

/// Brings fulfilment into `state` by feeding its own handlers the events that lead there (an
/// order confirmed, then a partner's acceptance or the order's cancellation), with one
/// logistics partner serving 560001.
async fn fulfilment_state(applier: &Applier, db: &DatabaseConnection, state: &str) {
    use events::order as order_events;
    use prost::Message as _;

    let order_id = Uuid::new_v4().to_string();
    let served = state != "a pickup job no partner can take";
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
            address: "12 MG Road, Bengaluru".into(),
            pincode: if served { "560001" } else { "110001" }.into(),
            slot_date: (Utc::now().date_naive() + chrono::Duration::days(2)).to_string(),
            slot_window: "morning".into(),
        }),
    };
    let feed = async |event_type: &str, payload: Vec<u8>| {
        let applied = apply(applier, "order", event_type, &order_id, payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
    };
    feed("order.OrderConfirmed", confirmed.encode_to_vec()).await;
    let order = Uuid::parse_str(&order_id).unwrap();
    let job = fulfilment::store::open_jobs_of(db, order)
        .await
        .unwrap()
        .remove(0);
    match state {
        "a pickup job created for a confirmed order"
        | "a pickup job offered to the partner that serves its pincode"
        | "a pickup job no partner can take" => {}
        "a pickup job accepted by its partner" => {
            let accepted = events::partner::JobAccepted {
                order_id: order_id.clone(),
                job_id: job.id.to_string(),
                partner_id: job.partner_id.expect("the job was offered").to_string(),
            };
            let applied = apply(
                applier,
                "partner",
                "partner.JobAccepted",
                &order_id,
                accepted.encode_to_vec(),
            )
            .await;
            assert_eq!(applied, Applied::Applied);
        }
        "a pickup job cancelled with its order" => {
            let cancelled = order_events::OrderCancelled {
                order_id: order_id.clone(),
                cancelled_by: "shopper".into(),
                reason: "changed my mind".into(),
            };
            feed("order.OrderCancelled", cancelled.encode_to_vec()).await;
        }
        other => panic!("fulfilment has no provider state `{other}`"),
    }
}

#[tokio::test]
async fn fulfilment_publishes_what_the_portal_reads() {
    let codec = EventJson::load();
    let db = migrated::<fulfilment::migrations::Migrator>("fulfilment").await;
    fulfilment::store::insert_partner(
        &db,
        fulfilment::domain::NewPartner {
            id: Uuid::new_v4(),
            name: "Swift Logistics".into(),
            kind: fulfilment::domain::PartnerKind::Logistics,
            pincodes: vec!["560001".into()],
            daily_capacity: 50,
            active: true,
        },
    )
    .await
    .unwrap();
    let applier = Applier::new(
        db.clone(),
        fulfilment::consumers::CONSUMER_GROUP,
        fulfilment::consumers::handlers(),
    );
    let produce = async |state: &str| {
        fulfilment_state(&applier, &db, state).await;
        published(&db, &codec, None).await
    };
    let pact = committed_pact("partner-portal", "fulfilment-events");
    let mismatches = against(&pact, produce, |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
