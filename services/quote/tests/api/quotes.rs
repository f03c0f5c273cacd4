//! Issuing and reading quotes: the price, its breakdown, who may see it.

use std::time::Duration;

use platform::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    BASE_PRICE, SHOPPER, TestOptions, assert_problem, fields, fixture, fixture_with,
    spawn_app_with, spawn_catalog,
};

fn breakdown_sum(quote: &Value) -> i64 {
    quote["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["amount_minor"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_shopper_gets_a_quote_priced_from_base_price_and_answers() {
    let fixture = fixture().await;
    let answers = fixture.questionnaire.answers(&[
        ("screen", "scratched"),
        ("body", "dented"),
        ("powers_on", "yes"),
    ]);
    let response = fixture
        .app
        .post_quote(&fixture.request(answers.clone()))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let quote: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/quotes/{}", quote["id"].as_str().unwrap())
    );
    assert_eq!(quote["status"], "active");
    assert_eq!(quote["variant_id"], fixture.variant_id.as_str());
    assert_eq!(quote["model_id"], fixture.model_id.as_str());
    assert_eq!(quote["pincode"], "560001");
    // ₹50,000 - 10 % (scratched) - 5 % (dented), both on the base price.
    assert_eq!(
        quote["price"],
        json!({"amount_minor": BASE_PRICE - 500_000 - 250_000, "currency": "INR"})
    );
    let kinds: Vec<&str> = quote["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["base_price", "deduction", "deduction"]);
    assert_eq!(
        quote["breakdown"][1]["label"],
        "Screen condition?: scratched"
    );
    assert_eq!(
        breakdown_sum(&quote),
        quote["price"]["amount_minor"].as_i64().unwrap()
    );
    assert_eq!(quote["answers"], answers);
    let created: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(quote["created_at"].clone()).unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(quote["expires_at"].clone()).unwrap();
    assert_eq!(expires - created, chrono::Duration::hours(168));
}

#[tokio::test]
async fn issuing_a_quote_stores_quote_issued_in_the_outbox() {
    let fixture = fixture().await;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap().to_owned();
    assert_eq!(
        fixture.app.outbox().await,
        [("quote.QuoteIssued".to_owned(), id, 1)]
    );
}

#[tokio::test]
async fn a_device_that_is_worth_almost_nothing_gets_the_floor_price() {
    let fixture = fixture_with(TestOptions {
        floor_price_minor: Some(1_000_000),
        ..TestOptions::default()
    })
    .await;
    let answers = fixture.questionnaire.answers(&[
        ("screen", "cracked"),
        ("body", "dented"),
        ("powers_on", "no"),
    ]);
    let quote = fixture.app.create_quote(&fixture.request(answers)).await;
    assert_eq!(quote["price"]["amount_minor"], 1_000_000);
    let last = quote["breakdown"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "floor");
    assert_eq!(breakdown_sum(&quote), 1_000_000);
}

#[tokio::test]
async fn the_owner_an_admin_and_a_service_read_a_quote_and_another_shopper_gets_404() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let path = format!("/v1/quotes/{}", quote["id"].as_str().unwrap());
    for token in [&app.shopper_token, &app.admin_token, &app.service_token] {
        let response = app.request(Method::GET, &path, token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let read: Value = response.json().await.unwrap();
        assert_eq!(read, quote);
    }
    let response = app
        .request(Method::GET, &path, &app.other_shopper_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "quote_not_found").await;
    let partner = app
        .authenticator
        .issue(
            "p",
            Role::Partner,
            Some(uuid::Uuid::new_v4()),
            Duration::from_secs(60),
        )
        .unwrap();
    let response = app
        .request(Method::GET, &path, &partner)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "forbidden").await;
    let unknown = format!("/v1/quotes/{}", uuid::Uuid::new_v4());
    let response = app
        .request(Method::GET, &unknown, &app.admin_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "quote_not_found").await;
}

#[tokio::test]
async fn bad_answers_and_a_bad_pincode_are_one_422_listing_every_field() {
    let fixture = fixture().await;
    let q = &fixture.questionnaire;
    let body = json!({
        "variant_id": fixture.variant_id,
        "answers": [
            {"question_id": uuid::Uuid::new_v4(), "option_id": uuid::Uuid::new_v4()},
            {"question_id": q.question_id("screen"), "option_id": q.option_id("body", "good")},
            {"question_id": q.question_id("body"), "option_id": q.option_id("body", "good")},
            {"question_id": q.question_id("body"), "option_id": q.option_id("body", "dented")},
        ],
        "pincode": "05600",
    });
    let response = fixture.app.post_quote(&body).await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(
        fields(&problem),
        [
            "pincode",
            "answers[0].question_id",
            "answers[1].option_id",
            "answers[3].question_id",
            "answers",
        ],
        "{problem}"
    );
    assert!(problem.to_string().contains("powers_on"), "{problem}");
    assert!(fixture.app.outbox().await.is_empty(), "nothing issued");
}

#[tokio::test]
async fn an_unknown_variant_is_a_404() {
    let fixture = fixture().await;
    let body = json!({
        "variant_id": uuid::Uuid::new_v4(),
        "answers": fixture.questionnaire.flawless(),
        "pincode": "560001",
    });
    let response = fixture.app.post_quote(&body).await;
    assert_problem(response, 404, "variant_not_found").await;
}

#[tokio::test]
async fn a_retired_model_is_not_quoted() {
    let catalog = spawn_catalog(None).await;
    let questionnaire = catalog.put_questionnaire("phone").await;
    let model = catalog.create_model("Acme", "phone", BASE_PRICE).await;
    catalog
        .admin(
            Method::DELETE,
            &format!("/v1/admin/catalog/models/{}", model["id"].as_str().unwrap()),
            None,
        )
        .await;
    let app = spawn_app_with(TestOptions {
        catalog_url: Some(catalog.address.clone()),
        ..TestOptions::default()
    })
    .await;
    let response = app
        .post_quote(&json!({
            "variant_id": model["variants"][0]["id"],
            "answers": questionnaire.flawless(),
            "pincode": "560001",
        }))
        .await;
    let problem = assert_problem(response, 409, "device_retired").await;
    assert_eq!(problem["current_status"], "retired");
}

#[tokio::test]
async fn only_shoppers_ask_for_quotes() {
    let fixture = fixture().await;
    let app = &fixture.app;
    for token in [&app.admin_token, &app.service_token] {
        let response = app
            .request(Method::POST, "/v1/quotes", token)
            .json(&fixture.request(fixture.questionnaire.flawless()))
            .send()
            .await
            .unwrap();
        assert_problem(response, 403, "forbidden").await;
    }
    let quote = fixture.flawless_quote().await;
    let owner = app
        .request(
            Method::GET,
            &format!("/v1/quotes/{}", quote["id"].as_str().unwrap()),
            &app.shopper_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), 200, "{SHOPPER} owns it");
}
