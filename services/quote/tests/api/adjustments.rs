//! Admin pricing adjustments: CRUD, and only those active at pricing time apply.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{BASE_PRICE, TestApp, assert_problem, fields, fixture, spawn_app};

const ADJUSTMENTS: &str = "/v1/admin/pricing/adjustments";

async fn create(app: &TestApp, body: Value) -> Value {
    let response = app
        .admin(Method::POST, ADJUSTMENTS)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.unwrap()
}

fn adjustment(
    scope: &str,
    value: &str,
    basis_points: i32,
    starts: Duration,
    ends: Option<Duration>,
) -> Value {
    let now = Utc::now();
    json!({
        "scope": scope,
        "value": value,
        "percent_basis_points": basis_points,
        "starts_at": now + starts,
        "ends_at": ends.map(|ends| now + ends),
        "label": format!("{scope} {value} {basis_points}"),
    })
}

#[tokio::test]
async fn an_admin_creates_lists_reads_and_deletes_adjustments() {
    let app = spawn_app().await;
    let response = app
        .admin(Method::POST, ADJUSTMENTS)
        .json(&adjustment(
            "brand",
            " Apple ",
            -1000,
            Duration::hours(-1),
            None,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("{ADJUSTMENTS}/{}", first["id"].as_str().unwrap())
    );
    assert_eq!(first["value"], "Apple");
    assert_eq!(first["active"], true);
    let second = create(
        &app,
        adjustment("category", "Laptop", 500, Duration::hours(1), None),
    )
    .await;
    assert_eq!(second["value"], "laptop");
    assert_eq!(second["active"], false, "starts in an hour");

    let read: Value = app
        .admin(Method::GET, &location)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, first);
    let list: Value = app
        .admin(Method::GET, &format!("{ADJUSTMENTS}?per_page=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 2);
    assert_eq!(list["total_pages"], 2);
    assert_eq!(list["items"][0]["id"], second["id"], "newest first");

    let deleted = app.admin(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = app.admin(Method::GET, &location).send().await.unwrap();
    assert_problem(gone, 404, "adjustment_not_found").await;
    let again = app.admin(Method::DELETE, &location).send().await.unwrap();
    assert_problem(again, 404, "adjustment_not_found").await;
}

#[tokio::test]
async fn invalid_adjustments_are_a_422_listing_every_field() {
    let app = spawn_app().await;
    let now = Utc::now();
    let response = app
        .admin(Method::POST, ADJUSTMENTS)
        .json(&json!({
            "scope": "category", "value": "toaster", "percent_basis_points": 20_000,
            "starts_at": now, "ends_at": now - Duration::hours(1), "label": "",
        }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(
        fields(&problem),
        ["value", "percent_basis_points", "label", "ends_at"]
    );
    let response = app
        .admin(Method::POST, ADJUSTMENTS)
        .json(&json!({"scope": "planet", "value": "x", "percent_basis_points": 0, "starts_at": now, "label": "x"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(fields(&problem), ["scope", "percent_basis_points"]);
    let response = app
        .admin(Method::GET, &format!("{ADJUSTMENTS}?page=0"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_query_parameter").await;
}

#[tokio::test]
async fn only_admins_manage_adjustments() {
    let app = spawn_app().await;
    for token in [&app.shopper_token, &app.service_token] {
        let response = app
            .request(Method::GET, ADJUSTMENTS, token)
            .send()
            .await
            .unwrap();
        assert_problem(response, 403, "forbidden").await;
        let response = app
            .request(Method::POST, ADJUSTMENTS, token)
            .json(&adjustment("brand", "Acme", 100, Duration::zero(), None))
            .send()
            .await
            .unwrap();
        assert_problem(response, 403, "forbidden").await;
    }
}

#[tokio::test]
async fn only_adjustments_active_at_pricing_time_and_matching_the_model_apply() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let hour = Duration::hours(1);
    let bonus = create(app, adjustment("category", "phone", 500, -hour, None)).await;
    let cut = create(app, adjustment("brand", "acme", -1000, -hour, Some(hour))).await;
    create(
        app,
        adjustment(
            "brand",
            "Acme",
            -5000,
            -hour * 2,
            Some(-Duration::minutes(1)),
        ),
    )
    .await;
    create(app, adjustment("category", "phone", 2000, hour, None)).await;
    create(app, adjustment("brand", "Other", -5000, -hour, None)).await;
    create(app, adjustment("category", "laptop", -5000, -hour, None)).await;

    let quote = fixture.flawless_quote().await;
    let adjustments: Vec<(String, i64)> = quote["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["kind"] == "adjustment")
        .map(|line| {
            (
                line["label"].as_str().unwrap().to_owned(),
                line["amount_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        adjustments,
        [
            (bonus["label"].as_str().unwrap().to_owned(), 250_000),
            (cut["label"].as_str().unwrap().to_owned(), -500_000),
        ]
    );
    assert_eq!(
        quote["price"]["amount_minor"],
        BASE_PRICE + 250_000 - 500_000
    );

    // A re-quote keeps the adjustments of quote time, even once they are gone.
    for id in [&bonus["id"], &cut["id"]] {
        let deleted = app
            .admin(
                Method::DELETE,
                &format!("{ADJUSTMENTS}/{}", id.as_str().unwrap()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
    }
    let requote: Value = app
        .admin(
            Method::POST,
            &format!("/v1/quotes/{}/requote", quote["id"].as_str().unwrap()),
        )
        .json(&json!({"answers": fixture.questionnaire.flawless()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(requote["revised_price"], quote["price"]);
    let fresh = fixture.flawless_quote().await;
    assert_eq!(
        fresh["price"]["amount_minor"], BASE_PRICE,
        "new quotes no longer get them"
    );
}
