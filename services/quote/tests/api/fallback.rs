//! When the read model misses: the catalog over HTTP, kept locally; when that fails, 503.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{BASE_PRICE, assert_problem, fixture, spawn_app};

#[tokio::test]
async fn a_variant_the_read_model_misses_is_priced_from_the_catalog_and_kept_locally() {
    let mut fixture = fixture().await;
    let first = fixture.flawless_quote().await;
    assert_eq!(first["price"]["amount_minor"], BASE_PRICE);
    fixture.catalog.stop().await;
    let second = fixture.flawless_quote().await;
    assert_eq!(
        second["price"], first["price"],
        "priced from the local copy"
    );
    let requote = fixture
        .app
        .admin(
            Method::POST,
            &format!("/v1/quotes/{}/requote", second["id"].as_str().unwrap()),
        )
        .json(&serde_json::json!({"answers": fixture.questionnaire.flawless()}))
        .send()
        .await
        .unwrap();
    assert_eq!(requote.status(), 200, "the questionnaire is local too");
}

#[tokio::test]
async fn with_neither_the_read_model_nor_the_catalog_the_answer_is_a_503_not_a_price() {
    let mut fixture = fixture().await;
    fixture.catalog.stop().await;
    let response = fixture
        .app
        .post_quote(&fixture.request(fixture.questionnaire.flawless()))
        .await;
    let problem = assert_problem(response, 503, "catalog_unavailable").await;
    assert!(
        !problem["detail"].as_str().unwrap().contains("127.0.0.1"),
        "the cause is logged, not sent: {problem}"
    );
    assert!(fixture.app.outbox().await.is_empty());
}

#[tokio::test]
async fn an_unconfigured_or_unreachable_catalog_is_a_503_for_any_unknown_variant() {
    let app = spawn_app().await;
    let response = app
        .post_quote(&serde_json::json!({
            "variant_id": uuid::Uuid::new_v4(),
            "answers": [],
            "pincode": "560001",
        }))
        .await;
    let problem: Value = assert_problem(response, 503, "catalog_unavailable").await;
    assert_eq!(problem["status"], 503);
}
