use std::time::Duration;

use platform::testing::eventually;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_order_whose_quote_service_is_down_stays_received_and_is_retried_with_backoff() {
    let app = spawn_app().await;
    let order_id = app.accepted_order().await;
    let path = format!("/v1/admin/orders/{order_id}");

    eventually(
        Duration::from_secs(20),
        "three attempts were made",
        || async {
            app.admin_json(&path).await["processing"]["attempts"]
                .as_i64()
                .unwrap()
                >= 3
        },
    )
    .await;

    let order: Value = app.admin_json(&path).await;
    assert_eq!(order["status"], "received");
    assert!(
        order["processing"]["last_error"]
            .as_str()
            .unwrap()
            .contains("quote service is unavailable"),
        "{order}"
    );
    let next = order["processing"]["next_attempt_at"].as_str().unwrap();
    assert!(next > order["created_at"].as_str().unwrap());
    // A shopper sees the order, not the machinery.
    let mine: Value = app
        .get_as(&app.shopper_token, &format!("/v1/orders/{order_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(mine.get("processing").is_none());
}
