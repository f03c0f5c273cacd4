//! Re-quote after inspection: the same variant priced with the observed condition.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{BASE_PRICE, SHOPPER, assert_problem, fixture};

#[tokio::test]
async fn a_requote_prices_the_observed_condition_and_lists_what_changed() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let q = &fixture.questionnaire;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    let observed = q.answers(&[
        ("screen", "scratched"),
        ("body", "good"),
        ("powers_on", "yes"),
    ]);
    let response = app
        .request(
            Method::POST,
            &format!("/v1/quotes/{id}/requote"),
            &app.service_token,
        )
        .json(&json!({"answers": observed}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let requote: Value = response.json().await.unwrap();
    assert_eq!(requote["quote_id"], id);
    assert_eq!(requote["original_price"], quote["price"]);
    assert_eq!(
        requote["revised_price"],
        json!({"amount_minor": BASE_PRICE - 500_000, "currency": "INR"})
    );
    assert_eq!(requote["breakdown"][1]["kind"], "deduction");
    assert_eq!(
        requote["changes"],
        json!([{
            "question_id": q.question_id("screen"),
            "quoted_option_id": q.option_id("screen", "flawless"),
            "observed_option_id": q.option_id("screen", "scratched"),
            "price_delta_minor": -500_000,
        }])
    );
}

#[tokio::test]
async fn a_requote_works_on_locked_and_expired_quotes_and_changes_nothing() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    assert_eq!(app.lock(id, Uuid::new_v4(), SHOPPER).await.status(), 200);
    app.expire(id).await;
    let before: Value = app
        .admin(Method::GET, &format!("/v1/quotes/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = app
        .admin(Method::POST, &format!("/v1/quotes/{id}/requote"))
        .json(&json!({"answers": fixture.questionnaire.flawless()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let requote: Value = response.json().await.unwrap();
    assert_eq!(requote["revised_price"], quote["price"]);
    assert_eq!(requote["changes"], json!([]));
    let after: Value = app
        .admin(Method::GET, &format!("/v1/quotes/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(after["status"], "locked");
}

#[tokio::test]
async fn a_requote_with_incomplete_answers_is_a_422_and_of_no_quote_a_404() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    let partial = fixture.questionnaire.answers(&[("screen", "cracked")]);
    let response = app
        .request(
            Method::POST,
            &format!("/v1/quotes/{id}/requote"),
            &app.service_token,
        )
        .json(&json!({"answers": partial}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "validation_failed").await;
    let response = app
        .request(
            Method::POST,
            &format!("/v1/quotes/{}/requote", Uuid::new_v4()),
            &app.service_token,
        )
        .json(&json!({"answers": []}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "quote_not_found").await;
    let response = app
        .request(
            Method::POST,
            &format!("/v1/quotes/{id}/requote"),
            &app.shopper_token,
        )
        .json(&json!({"answers": []}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "forbidden").await;
}
