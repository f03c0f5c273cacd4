use futures_util::StreamExt;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{assert_problem, order_body, spawn_app};

/// Status, Location and body: what a client can see of a 202.
async fn seen(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, response.text().await.unwrap())
}

#[tokio::test]
async fn a_thousand_keys_sent_five_times_three_at_once_make_exactly_a_thousand_orders_with_identical_answers()
 {
    let app = spawn_app().await;
    let keys: Vec<(String, Value)> = (0..1000)
        .map(|_| (Uuid::new_v4().to_string(), order_body(Uuid::new_v4())))
        .collect();

    let results: Vec<Vec<(u16, String, String)>> = futures_util::stream::iter(&keys)
        .map(|(key, body)| {
            let app = &app;
            async move {
                // Three at once, as a client retrying on a timeout would, then two more.
                let (a, b, c) = tokio::join!(
                    app.place_order(key, body),
                    app.place_order(key, body),
                    app.place_order(key, body)
                );
                let mut answers = vec![seen(a).await, seen(b).await, seen(c).await];
                for _ in 0..2 {
                    answers.push(seen(app.place_order(key, body).await).await);
                }
                answers
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    for answers in &results {
        assert_eq!(answers[0].0, 202, "{answers:?}");
        assert!(
            answers.iter().all(|answer| answer == &answers[0]),
            "{answers:?}"
        );
    }
    let distinct_orders: std::collections::HashSet<&str> = results
        .iter()
        .map(|answers| answers[0].1.as_str())
        .collect();
    assert_eq!(distinct_orders.len(), 1000);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 1000);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE event_type = 'order.OrderPlaced'")
            .await,
        1000
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM order_timeline").await, 1000);
}

#[tokio::test]
async fn a_replay_says_so_in_a_header_and_returns_the_first_order() {
    let app = spawn_app().await;
    let body = order_body(Uuid::new_v4());
    let first = app.place_order("same-key", &body).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    let again = app.place_order("same-key", &body).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_and_creates_nothing() {
    let app = spawn_app().await;
    let first = app.place_order("key", &order_body(Uuid::new_v4())).await;
    assert_eq!(first.status(), 202);

    let other = app.place_order("key", &order_body(Uuid::new_v4())).await;

    assert_problem(other, 422, "idempotency_key_reused").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 1);
}

#[tokio::test]
async fn formatting_differences_in_the_same_request_are_the_same_request() {
    let app = spawn_app().await;
    let body = order_body(Uuid::new_v4());
    let compact = serde_json::to_string(&body).unwrap();
    let pretty = serde_json::to_string_pretty(&body).unwrap();
    let send = |text: String| {
        app.client
            .post(app.url("/v1/orders"))
            .bearer_auth(&app.shopper_token)
            .header("Idempotency-Key", "fmt")
            .header("content-type", "application/json")
            .body(text)
            .send()
    };
    let first = send(compact).await.unwrap();
    let second = send(pretty).await.unwrap();
    assert_eq!(first.status(), 202);
    assert_eq!(second.status(), 202);
    assert_eq!(first.text().await.unwrap(), second.text().await.unwrap());
}

#[tokio::test]
async fn keys_belong_to_their_shopper_so_two_shoppers_may_use_the_same_one() {
    let app = spawn_app().await;
    let other = app.token_for("shopper-2", platform::auth::Role::Shopper);
    let body = order_body(Uuid::new_v4());

    let mine: Value = app.place_order("shared", &body).await.json().await.unwrap();
    let theirs = app.place_order_as(&other, "shared", &body).await;

    assert_eq!(theirs.status(), 202);
    let theirs: Value = theirs.json().await.unwrap();
    assert_ne!(mine["id"], theirs["id"]);
}
