//! Each producer's real publish code makes the events its consumers' message pacts name.
//! A provider state is a walk of the producer's own domain (for order: an order received,
//! then each step through `OrderRecord::after`, each published by `published::transition`
//! into a fresh database's outbox, as the store does); the last event of the pact's type is
//! read back from the outbox and matched against the pact with Pact's own matching.

use std::path::Path;

use chrono::Utc;
use order::domain::{Actor, Money, OrderRecord, Step};
use pact_models::bodies::OptionalBody;
use pact_models::content_types::ContentType;
use pact_models::interaction::Interaction;
use pact_models::pact::read_pact;
use pact_models::v4::async_message::AsynchronousMessage;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::event_json::EventJson;
use crate::providers::{call, spawn_catalog_on};
use crate::support::{committed_pact, migrated};
use crate::worlds::{Fulfilment, Portal, new_order};
use platform::auth::Role;
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
    let scheduled = Step::SchedulePickup {
        partner_id: Uuid::new_v4(),
    };
    let inspected_as_quoted = Step::inspection(Money::inr(4_500_000), Money::inr(4_500_000));
    let inspected_lower = Step::inspection(Money::inr(4_500_000), Money::inr(4_000_000));
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
        "an order placed by its shopper" => vec![],
        "an order rejected because its quote could not be locked" => vec![Step::Reject {
            reason: "the quote expired".into(),
        }],
        "an order whose pickup was scheduled" => vec![confirm, scheduled],
        "an order picked up by its logistics partner" => vec![confirm, scheduled, Step::PickUp],
        "an order inspected at its quoted price" => {
            vec![confirm, scheduled, Step::PickUp, inspected_as_quoted]
        }
        "an order inspected below its quoted price" => {
            vec![confirm, scheduled, Step::PickUp, inspected_lower]
        }
        "a revised price accepted by its shopper" => vec![
            confirm,
            scheduled,
            Step::PickUp,
            inspected_lower,
            Step::AcceptRevisedPrice,
        ],
        "an order paid out at its quoted price" => vec![
            confirm,
            scheduled,
            Step::PickUp,
            inspected_as_quoted,
            Step::Complete {
                paid: Money::inr(4_500_000),
                payout_reference: "payout-1".into(),
            },
        ],
        "a refused order returned to its shopper" => vec![
            confirm,
            scheduled,
            Step::PickUp,
            inspected_lower,
            Step::RefuseRevisedPrice,
            Step::Return,
        ],
        other => panic!("order has no provider state `{other}`"),
    }
}

/// Places a new order and walks it through `steps`, publishing each as the store does; the
/// order's id.
async fn walk_an_order(db: &DatabaseConnection, steps: &[Step]) -> String {
    let now = Utc::now();
    let mut order = OrderRecord::received(new_order(), now);
    let (placed, _) = order::published::placed(&order).unwrap();
    db.execute(&placed).await.unwrap();
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
/// order confirmed, then a partner's acceptance or the order's cancellation).
async fn fulfilment_state(world: &Fulfilment, state: &str) {
    use fulfilment::domain::JobKind;

    if state == "a pickup job no partner can take" {
        world.confirm("110001").await;
        return;
    }
    let order = world.confirm("560001").await;
    match state {
        "a pickup job created for a confirmed order"
        | "a pickup job offered to the partner that serves its pincode" => {}
        "a pickup job accepted by its partner" => {
            world
                .accepted(&world.job(&order, JobKind::Pickup).await)
                .await;
        }
        "a pickup job cancelled with its order" => world.cancel(&order).await,
        other => panic!("fulfilment has no provider state `{other}`"),
    }
}

#[tokio::test]
async fn fulfilment_publishes_what_the_portal_reads() {
    let codec = EventJson::load();
    let world = Fulfilment::new().await;
    let produce = async |state: &str| {
        fulfilment_state(&world, state).await;
        published(&world.db, &codec, None).await
    };
    let pact = committed_pact("partner-portal", "fulfilment-events");
    let mismatches = against(&pact, produce, |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

/// Brings the portal into `state`: a job fulfilment offered to a partner, then the partner's
/// reports through the portal's store.
async fn portal_state(portal: &Portal, state: &str) {
    use partner_portal::published::Report;

    let kind = match state {
        "an accepted inspection job inspected by its repair partner" => "inspection",
        "a picked-up return job delivered back to the shopper" => "return",
        _ => "pickup",
    };
    let (job, partner) = portal.offered(kind).await;
    let reports = match state {
        "a pickup job accepted by the logistics partner it was offered to" => vec![Report::Accept],
        "a pickup job declined by the logistics partner it was offered to" => {
            vec![Report::Decline {
                reason: "no driver that day".into(),
            }]
        }
        "an accepted pickup job picked up by its partner" => vec![Report::Accept, Report::PickedUp],
        "a picked-up pickup job delivered to the hub"
        | "a picked-up return job delivered back to the shopper" => {
            vec![Report::Accept, Report::PickedUp, Report::Delivered]
        }
        "an accepted inspection job inspected by its repair partner" => vec![
            Report::Accept,
            Report::Inspection {
                answers: vec![events::partner::Answer {
                    question_id: Uuid::new_v4().to_string(),
                    option_id: Uuid::new_v4().to_string(),
                }],
                notes: "hairline crack on the back glass".into(),
            },
        ],
        other => panic!("the portal has no provider state `{other}`"),
    };
    for report in reports {
        portal.report(job, partner, report).await;
    }
}

#[tokio::test]
async fn the_portal_publishes_what_fulfilment_reads() {
    let codec = EventJson::load();
    let portal = Portal::new().await;
    let produce = async |state: &str| {
        portal_state(&portal, state).await;
        published(&portal.db, &codec, None).await
    };
    let pact = committed_pact("fulfilment", "partner-portal-events");
    let mismatches = against(&pact, produce, |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

/// Quote as fulfilment's own pact says it answers a re-quote: a Pact mock server playing
/// the committed `fulfilment-quote` interaction for a locked quote.
fn quote_as_pacted() -> (
    Box<dyn pact_consumer::mock_server::ValidatingMockServer>,
    String,
) {
    use pact_consumer::prelude::*;

    let pact = read_pact(&committed_pact("fulfilment", "quote")).unwrap();
    let requote = pact
        .interactions()
        .into_iter()
        .find(|interaction| {
            interaction.description()
                == "a re-quote of a locked quote with an answer to every question"
        })
        .expect("fulfilment's pact has the successful re-quote");
    let path = requote.as_v4_http().unwrap().request.path;
    let quote_id = path.split('/').nth(3).unwrap().to_owned();
    let mut stub = PactBuilder::new_v4("fulfilment", "quote");
    stub.with_output_dir(crate::support::scratch_dir())
        .push_interaction(&*requote);
    (stub.start_mock_server(None, None), quote_id)
}

/// Brings fulfilment into `state` for order's pact: a pickup through to the hub, an
/// inspection re-priced by quote (the pact's stub, which fails on drop unless called), or a
/// return delivered.
async fn fulfilment_state_for_order(world: &Fulfilment, state: &str) {
    use fulfilment::domain::JobKind;
    use platform::due_work::DueWork as _;

    let quote = (state == "an inspected device re-priced by quote").then(quote_as_pacted);
    let quote_id = quote
        .as_ref()
        .map_or_else(|| Uuid::new_v4().to_string(), |(_, id)| id.clone());
    let order = world.confirm_quoted("560001", &quote_id).await;
    let pickup = world.job(&order, JobKind::Pickup).await;
    world.accepted(&pickup).await;
    match (state, quote) {
        ("a pickup job accepted by its logistics partner", _) => {}
        ("a pickup job picked up by its logistics partner", _) => world.picked_up(&pickup).await,
        ("an inspected device re-priced by quote", Some((stub, _))) => {
            world.picked_up(&pickup).await;
            world.delivered_to_the_hub(&pickup).await;
            let inspection = world.job(&order, JobKind::Inspection).await;
            world.accepted(&inspection).await;
            let answer = events::partner::Answer {
                question_id: Uuid::new_v4().to_string(),
                option_id: Uuid::new_v4().to_string(),
            };
            world.inspected(&inspection, vec![answer]).await;
            let credentials = platform::auth::ServiceCredentials::Static(
                secrecy::SecretString::from(crate::support::EXAMPLE_TOKEN),
            );
            let second = std::time::Duration::from_secs(1);
            let requoter = fulfilment::workers::Requoter {
                db: world.db.clone(),
                sequencer: std::sync::Arc::new(platform::sequencer::LocalSequencer::new()),
                quotes: fulfilment::quote_client::QuoteClient::new(
                    stub.url().as_str(),
                    5 * second,
                    credentials,
                )
                .unwrap(),
                retry: platform::retry::RetryPolicy::new(second, second),
            };
            requoter.run(&inspection.1, 0).await;
        }
        ("a return job delivered back to the shopper", _) => {
            world.refuse_revised_price(&order).await;
            let back = world.job(&order, JobKind::Return).await;
            world.accepted(&back).await;
            world.picked_up(&back).await;
            world.delivered_back(&back).await;
        }
        (other, _) => panic!("fulfilment has no provider state `{other}`"),
    }
}

#[tokio::test]
async fn fulfilment_publishes_what_order_reads() {
    let codec = EventJson::load();
    let world = Fulfilment::new().await;
    let produce = async |state: &str| {
        fulfilment_state_for_order(&world, state).await;
        published(&world.db, &codec, None).await
    };
    let pact = committed_pact("order", "fulfilment-events");
    let mismatches = against(&pact, produce, |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn order_publishes_what_reporting_reads() {
    let mismatches = order_against(&committed_pact("reporting", "order-events"), |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn an_order_completed_without_the_amount_paid_breaks_reportings_pact() {
    let mismatches = order_against(
        &committed_pact("reporting", "order-events"),
        |event_type, json| {
            if event_type == "order.OrderCompleted" {
                json["paid"].as_object_mut().unwrap().remove("amount_minor");
            }
        },
    )
    .await;
    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    assert_eq!(mismatches[0].0, "an order completed");
}

#[tokio::test]
async fn fulfilment_publishes_what_reporting_reads() {
    let codec = EventJson::load();
    let world = Fulfilment::new().await;
    let produce = async |state: &str| {
        if state == "a pickup job picked up by its logistics partner" {
            fulfilment_state_for_order(&world, state).await;
        } else {
            fulfilment_state(&world, state).await;
        }
        published(&world.db, &codec, None).await
    };
    let pact = committed_pact("reporting", "fulfilment-events");
    let mismatches = against(&pact, produce, |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn the_portal_publishes_what_reporting_reads() {
    let codec = EventJson::load();
    let portal = Portal::new().await;
    let produce = async |state: &str| {
        portal_state(&portal, state).await;
        published(&portal.db, &codec, None).await
    };
    let pact = committed_pact("reporting", "partner-portal-events");
    let mismatches = against(&pact, produce, |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn quote_publishes_what_reporting_reads() {
    let codec = EventJson::load();
    let (_quote, _catalog, states) = crate::providers::spawn_quote().await;
    let produce = async |state: &str| {
        assert_eq!(
            state, "a quote issued for a phone",
            "quote has no such provider state"
        );
        states.issue().await.unwrap();
        published(&states.db, &codec, None).await
    };
    let pact = committed_pact("reporting", "quote-events");
    let mismatches = against(&pact, produce, |_, _| {}).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
