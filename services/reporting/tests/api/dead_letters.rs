//! An event the projection cannot apply is a dead letter an admin sees, its order's later
//! events wait behind it, and every instance reports both on /metrics.

use chrono::Utc;
use events::order::{OrderConfirmed, OrderPlaced};
use platform::testing::{eventually, sample};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{SETTLE, Topics, spawn_app};

#[tokio::test]
async fn a_malformed_event_is_dead_lettered_and_the_keys_it_blocks_are_counted_on_metrics() {
    let topics = Topics::start().await;
    let app = spawn_app(&topics).await;
    let order = Uuid::now_v7();
    // A quote id that is not one: the projection refuses it for good.
    let placed = OrderPlaced {
        order_id: order.to_string(),
        quote_id: "not-a-quote-id".into(),
        ..OrderPlaced::default()
    };
    topics.says("order", order, &placed, Utc::now()).await;
    let confirmed = OrderConfirmed {
        order_id: order.to_string(),
        ..OrderConfirmed::default()
    };
    topics.says("order", order, &confirmed, Utc::now()).await;

    let listed = app
        .report_when("/v1/admin/reports/dead-letters", |page| {
            page["items"]
                .as_array()
                .is_some_and(|items| items.len() == 1)
        })
        .await;
    let letter: &Value = &listed["items"][0];
    assert_eq!(letter["event_type"], "order.OrderPlaced");
    assert!(
        letter["error"].as_str().unwrap().contains("not-a-quote-id"),
        "{letter}"
    );

    eventually(
        SETTLE,
        "the gauges count the dead letter and what waits behind it",
        || async {
            let metrics = app.metrics().await;
            sample(&metrics, "consumer_dead_letters_open", &[]) == Some(1.0)
                && sample(&metrics, "consumer_blocked_keys", &[]) == Some(1.0)
                && sample(&metrics, "consumer_held_events", &[]) == Some(1.0)
        },
    )
    .await;
    // Nothing of the order was projected past the refused event.
    let summary = app.json("/v1/admin/reports/summary").await;
    assert_eq!(summary["orders_placed"], 0);
}
