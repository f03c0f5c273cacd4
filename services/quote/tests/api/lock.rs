//! Validate-and-lock, the contract the order service depends on.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{OTHER_SHOPPER, SHOPPER, assert_problem, fixture};

#[tokio::test]
async fn a_lock_answers_the_quote_for_the_order_and_publishes_quote_locked() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    let order = Uuid::new_v4();
    let response = app.lock(id, order, SHOPPER).await;
    assert_eq!(response.status(), 200);
    let locked: Value = response.json().await.unwrap();
    assert_eq!(locked["quote_id"], id);
    assert_eq!(locked["order_id"], order.to_string());
    assert_eq!(locked["variant_id"], quote["variant_id"]);
    assert_eq!(locked["model_id"], quote["model_id"]);
    assert_eq!(locked["price"], quote["price"]);
    assert_eq!(locked["expires_at"], quote["expires_at"]);
    assert!(locked["locked_at"].is_string());
    let read: Value = app
        .request(Method::GET, &format!("/v1/quotes/{id}"), &app.shopper_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "locked");
    assert_eq!(
        app.outbox().await,
        [
            ("quote.QuoteIssued".to_owned(), id.to_owned(), 1),
            ("quote.QuoteLocked".to_owned(), id.to_owned(), 2),
        ]
    );
}

#[tokio::test]
async fn locking_again_for_the_same_order_answers_the_same_body_and_publishes_nothing_more() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    let order = Uuid::new_v4();
    let first: Value = app.lock(id, order, SHOPPER).await.json().await.unwrap();
    let again = app.lock(id, order, SHOPPER).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let admin = app
        .admin(Method::POST, &format!("/v1/quotes/{id}/lock"))
        .json(&json!({"order_id": order, "shopper_id": SHOPPER}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        admin.json::<Value>().await.unwrap(),
        first,
        "admins may lock too"
    );
    assert_eq!(
        app.outbox().await.len(),
        2,
        "one QuoteIssued, one QuoteLocked"
    );
}

#[tokio::test]
async fn a_quote_locked_by_another_order_is_a_409_already_used() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    assert_eq!(app.lock(id, Uuid::new_v4(), SHOPPER).await.status(), 200);
    let response = app.lock(id, Uuid::new_v4(), SHOPPER).await;
    assert_problem(response, 409, "quote_already_used").await;
}

#[tokio::test]
async fn an_expired_quote_is_a_410_unless_its_order_locked_it_before() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let unlocked = fixture.flawless_quote().await;
    let unlocked_id = unlocked["id"].as_str().unwrap();
    app.expire(unlocked_id).await;
    let response = app.lock(unlocked_id, Uuid::new_v4(), SHOPPER).await;
    let problem = assert_problem(response, 410, "quote_expired").await;
    assert!(problem["expires_at"].is_string());

    let locked = fixture.flawless_quote().await;
    let locked_id = locked["id"].as_str().unwrap();
    let order = Uuid::new_v4();
    let first: Value = app
        .lock(locked_id, order, SHOPPER)
        .await
        .json()
        .await
        .unwrap();
    app.expire(locked_id).await;
    let again = app.lock(locked_id, order, SHOPPER).await;
    assert_eq!(again.status(), 200, "its order keeps it after expiry");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["locked_at"], first["locked_at"]);
    assert_eq!(again["order_id"], first["order_id"]);
    let other = app.lock(locked_id, Uuid::new_v4(), SHOPPER).await;
    assert_problem(other, 409, "quote_already_used").await;
}

#[tokio::test]
async fn a_quote_is_judged_as_it_stood_when_its_order_was_accepted_not_when_the_lock_arrives() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let lock_accepted_at = |id: &str, accepted_at: chrono::DateTime<chrono::Utc>| {
        app.request(
            Method::POST,
            &format!("/v1/quotes/{id}/lock"),
            &app.service_token,
        )
        .json(
            &json!({"order_id": Uuid::new_v4(), "shopper_id": SHOPPER, "accepted_at": accepted_at}),
        )
        .send()
    };
    // Expired a minute ago; the order was accepted before that and reaches quote only now
    // (quote was down, say).
    let accepted_in_time = fixture.flawless_quote().await;
    let id = accepted_in_time["id"].as_str().unwrap();
    app.expire(id).await;
    let before_expiry = chrono::Utc::now() - chrono::Duration::seconds(90);
    let response = lock_accepted_at(id, before_expiry).await.unwrap();
    assert_eq!(response.status(), 200, "valid when the order was accepted");

    let accepted_late = fixture.flawless_quote().await;
    let id = accepted_late["id"].as_str().unwrap();
    app.expire(id).await;
    let after_expiry = chrono::Utc::now() - chrono::Duration::seconds(30);
    let response = lock_accepted_at(id, after_expiry).await.unwrap();
    assert_problem(response, 410, "quote_expired").await;

    // A time in the future counts as now: it cannot stretch a quote's validity.
    let future = chrono::Utc::now() + chrono::Duration::days(1);
    let response = lock_accepted_at(id, future).await.unwrap();
    assert_problem(response, 410, "quote_expired").await;
}

#[tokio::test]
async fn another_shoppers_quote_or_no_quote_at_all_is_a_404() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    let response = app.lock(id, Uuid::new_v4(), OTHER_SHOPPER).await;
    assert_problem(response, 404, "quote_not_found").await;
    let response = app
        .lock(&Uuid::new_v4().to_string(), Uuid::new_v4(), SHOPPER)
        .await;
    assert_problem(response, 404, "quote_not_found").await;
    assert_eq!(
        app.lock(id, Uuid::new_v4(), SHOPPER).await.status(),
        200,
        "still free"
    );
}

#[tokio::test]
async fn of_concurrent_locks_for_different_orders_exactly_one_wins() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    let orders: Vec<Uuid> = (0..12).map(|_| Uuid::new_v4()).collect();
    let responses = join_all(orders.iter().map(|order| app.lock(id, *order, SHOPPER))).await;
    let mut winners = Vec::new();
    for (order, response) in orders.iter().zip(responses) {
        match response.status().as_u16() {
            200 => winners.push(*order),
            _ => {
                assert_problem(response, 409, "quote_already_used").await;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one order holds the quote");
    let locked = app.lock(id, winners[0], SHOPPER).await;
    assert_eq!(locked.status(), 200);
    let locked_events = app
        .outbox()
        .await
        .into_iter()
        .filter(|(event_type, _, _)| event_type == "quote.QuoteLocked")
        .count();
    assert_eq!(locked_events, 1);
}

#[tokio::test]
async fn only_services_and_admins_lock_and_the_body_is_checked() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let path = format!("/v1/quotes/{}/lock", quote["id"].as_str().unwrap());
    let response = app
        .request(Method::POST, &path, &app.shopper_token)
        .json(&json!({"order_id": Uuid::new_v4(), "shopper_id": SHOPPER}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "forbidden").await;
    let response = app
        .request(Method::POST, &path, &app.service_token)
        .json(&json!({"order_id": "not-a-uuid", "shopper_id": SHOPPER}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "invalid_body").await;
    let response = app
        .request(Method::POST, &path, &app.service_token)
        .json(&json!({"order_id": Uuid::new_v4(), "shopper_id": " "}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "validation_failed").await;
}
