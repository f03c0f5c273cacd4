use platform::testing::TestBroker;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestOptions, order_body, spawn_app_with};

#[tokio::test]
async fn an_order_is_accepted_while_quote_and_the_broker_are_down_and_its_event_waits_in_the_outbox()
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
    if let Some(embedded) = broker.embedded() {
        embedded.down().unwrap();
    }
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;

    let quote_id = Uuid::new_v4();
    let response = app.place_order("key-1", &order_body(quote_id)).await;

    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "received");
    assert_eq!(body["quote_id"], quote_id.to_string());
    assert_eq!(
        location,
        format!("/v1/orders/{}", body["id"].as_str().unwrap())
    );

    let order: Value = app
        .get_as(&app.shopper_token, &location)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["status"], "received");
    assert_eq!(order["pickup"]["pincode"], "560001");
    assert_eq!(
        order["payout"]["details"]["vpa"], "•••••••bank",
        "payout details are masked"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.OrderPlaced' AND sent_at IS NULL"
        )
        .await,
        1
    );
    let timeline: Value = app
        .get_as(&app.shopper_token, &format!("{location}/timeline"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(timeline["items"][0]["event"], "OrderPlaced");
    assert_eq!(timeline["items"][0]["seq"], 1);
    assert_eq!(timeline["items"][0]["status"], "received");

    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status(),
        200,
        "a broker outage must not take the order service out of rotation"
    );
    let ready: Value = ready.json().await.unwrap();
    if broker.embedded().is_some() {
        let status = ready["checks"]["broker"].as_str().unwrap_or_default();
        assert!(status.starts_with("degraded"), "{ready}");
    }
}

#[tokio::test]
async fn a_placed_order_reaches_the_broker_once_it_is_back() {
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
    let embedded = broker.embedded();
    if let Some(embedded) = embedded {
        embedded.down().unwrap();
    }
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;
    let order_id = app.accepted_order().await;
    if let Some(embedded) = embedded {
        embedded.up().unwrap();
    }

    platform::testing::eventually(
        std::time::Duration::from_secs(20),
        "the OrderPlaced row is sent",
        || async {
            app.count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")
                .await
                == 1
        },
    )
    .await;
    let sent = app
        .count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE aggregate_id = '{order_id}' AND event_type = 'order.OrderPlaced'"
        ))
        .await;
    assert_eq!(sent, 1);
}
