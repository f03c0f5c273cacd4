//! An event the broker will not take is parked where admins see it, and the order's other
//! events go on without it.

use std::time::Duration;

use platform::testing::{TestBroker, eventually};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestOptions, spawn_app_with};

#[tokio::test]
async fn an_event_the_broker_refuses_is_parked_listed_for_admins_and_can_be_sent_back_to_the_relay()
{
    let broker = TestBroker::start();
    broker
        .create_topics(
            &[
                events::topics::ORDER_EVENTS,
                events::topics::FULFILMENT_EVENTS,
            ],
            1,
        )
        .await;
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;
    // Larger than the broker takes (message.max.bytes, 1 MB), as a bug could write one.
    let too_large = platform::outbox::publish(
        &app.db,
        "order",
        &Uuid::new_v4().to_string(),
        1,
        &events::order::OrderPlaced {
            order_id: Uuid::new_v4().to_string(),
            shopper_id: "x".repeat(2_000_000),
            quote_id: Uuid::new_v4().to_string(),
            pickup: None,
        },
    )
    .await
    .unwrap();
    let order_id = app.accepted_order().await;

    let parked = || async {
        let response = app
            .get_as(&app.admin_token, "/v1/admin/orders/outbox/parked")
            .await;
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()
    };
    eventually(Duration::from_secs(30), "the event is parked", || async {
        parked().await["items"][0]["event_id"] == too_large.to_string()
    })
    .await;
    let list = parked().await;
    assert_eq!(list["total"], 1);
    assert!(list["items"][0]["last_error"].is_string(), "{list}");
    // The order accepted after it still went out.
    broker
        .read(
            events::topics::ORDER_EVENTS,
            |event| event.aggregate_id == order_id.to_string(),
            |read| !read.is_empty(),
            Duration::from_secs(30),
        )
        .await;

    let shopper = app
        .get_as(&app.shopper_token, "/v1/admin/orders/outbox/parked")
        .await;
    assert_eq!(shopper.status(), 403);
    let retry = format!("/v1/admin/orders/outbox/parked/{too_large}/retry");
    assert_eq!(app.post_as(&app.admin_token, &retry).await.status(), 202);
    // Still too large: the relay tries it and parks it again, later.
    let first_parked_at = list["items"][0]["parked_at"].clone();
    eventually(
        Duration::from_secs(30),
        "tried and parked again",
        || async {
            let list = parked().await;
            list["total"] == 1 && list["items"][0]["parked_at"] != first_parked_at
        },
    )
    .await;
    let unknown = format!("/v1/admin/orders/outbox/parked/{}/retry", Uuid::new_v4());
    assert_eq!(app.post_as(&app.admin_token, &unknown).await.status(), 404);
}
