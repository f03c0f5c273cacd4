//! Redis coordinates who works on an order at a time. While it is down, accepting orders
//! goes on (it needs only the database), and what needs the order's lease answers 503
//! `coordinator_unavailable` in bounded time instead of hanging until the client gives up.

use std::time::Duration;

use platform::testing::{PrivateRedis, eventually};

use crate::helpers::{PROBLEM_JSON, TestOptions, spawn_app_with};

#[tokio::test]
async fn cancelling_while_redis_is_down_answers_503_coordinator_unavailable_and_works_once_it_is_back()
 {
    let mut redis = PrivateRedis::start();
    let app = spawn_app_with(TestOptions {
        redis_url: Some(redis.url()),
        ..TestOptions::default()
    })
    .await;
    let order_id = app.accepted_order().await;

    redis.stop();
    let cancel = tokio::time::timeout(
        Duration::from_secs(20),
        app.post_as(&app.shopper_token, &format!("/v1/orders/{order_id}/cancel")),
    )
    .await
    .expect("the cancel is answered while Redis is down, not left hanging");
    assert_eq!(cancel.status(), 503);
    assert!(cancel.headers().contains_key("retry-after"));
    assert_eq!(cancel.headers()["content-type"], PROBLEM_JSON);
    let problem: serde_json::Value = cancel.json().await.unwrap();
    assert_eq!(problem["code"], "coordinator_unavailable");
    // Orders are still taken: accept does not need the coordinator.
    app.accepted_order().await;

    redis.restart();
    eventually(
        Duration::from_secs(30),
        "the cancel goes through",
        || async {
            app.post_as(&app.shopper_token, &format!("/v1/orders/{order_id}/cancel"))
                .await
                .status()
                == 200
        },
    )
    .await;
}
