use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestOptions, assert_problem, order_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_order_without_an_idempotency_key_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/orders"))
        .bearer_auth(&app.shopper_token)
        .json(&order_body(Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "idempotency_key_missing").await;
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_refused() {
    let app = spawn_app().await;
    for key in ["", "has space", &"k".repeat(256)] {
        let response = app.place_order(key, &order_body(Uuid::new_v4())).await;
        assert_problem(response, 400, "idempotency_key_invalid").await;
    }
}

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let send = |body: String| {
        app.client
            .post(app.url("/v1/orders"))
            .bearer_auth(&app.shopper_token)
            .header("Idempotency-Key", Uuid::new_v4().to_string())
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let malformed = send("{\"quote_id\": ".into()).await.unwrap();
    assert_problem(malformed, 400, "malformed_json").await;

    let mut wrong_type = order_body(Uuid::new_v4());
    wrong_type["quote_id"] = json!(42);
    let response = send(wrong_type.to_string()).await.unwrap();
    assert_problem(response, 422, "invalid_body").await;

    let mut unknown = order_body(Uuid::new_v4());
    unknown["tip"] = json!(100);
    let response = send(unknown.to_string()).await.unwrap();
    assert_problem(response, 422, "invalid_body").await;

    let mut bad_window = order_body(Uuid::new_v4());
    bad_window["pickup"]["slot"]["window"] = json!("midnight");
    let response = send(bad_window.to_string()).await.unwrap();
    assert_problem(response, 422, "invalid_body").await;

    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM idempotency_keys").await, 0);
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = spawn_app().await;
    let body = json!({
        "quote_id": Uuid::new_v4(),
        "pickup": {"address": " ", "pincode": "12", "slot": {"date": "2020-01-01", "window": "evening"}},
        "payout": {"method": "bank_transfer", "details": {"ifsc": "short"}}
    });
    let response = app.place_order("k", &body).await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    for field in [
        "pickup.address",
        "pickup.pincode",
        "pickup.slot.date",
        "payout.details.account_name",
        "payout.details.account_number",
        "payout.details.ifsc",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = spawn_app_with(TestOptions {
        max_body_bytes: Some(2_048),
        ..TestOptions::default()
    })
    .await;
    let mut body = order_body(Uuid::new_v4());
    body["pickup"]["address"] = Value::String("x".repeat(4_096));
    let response = app.place_order("big", &body).await;
    assert_problem(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_are_refused_with_401() {
    let app = spawn_app().await;
    let no_token = app.client.get(app.url("/v1/orders")).send().await.unwrap();
    assert_problem(no_token, 401, "missing_token").await;

    let garbage = app.get_as("not-a-jwt", "/v1/orders").await;
    assert_problem(garbage, 401, "invalid_token").await;

    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "shopper-1", "role": "shopper", "iat": 1, "exp": 2, "iss": "recommerce", "aud": "recommerce-api"}),
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let response = app.get_as(&expired, "/v1/orders").await;
    assert_problem(response, 401, "expired_token").await;
}

#[tokio::test]
async fn the_wrong_role_is_refused_with_403() {
    let app = spawn_app().await;
    let partner = app
        .authenticator
        .issue(
            "partner-user-1",
            Role::Partner,
            Some(Uuid::new_v4()),
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let response = app
        .place_order_as(&app.admin_token, "k", &order_body(Uuid::new_v4()))
        .await;
    assert_problem(response, 403, "forbidden").await;
    let response = app.get_as(&partner, "/v1/orders").await;
    assert_problem(response, 403, "forbidden").await;
    let response = app.get_as(&app.shopper_token, "/v1/admin/orders").await;
    assert_problem(response, 403, "forbidden").await;
}

#[tokio::test]
async fn unknown_and_malformed_order_ids_are_not_found() {
    let app = spawn_app().await;
    let unknown = Uuid::new_v4();
    for path in [
        format!("/v1/orders/{unknown}"),
        format!("/v1/orders/{unknown}/timeline"),
        format!("/v1/admin/orders/{unknown}"),
    ] {
        let response = app.get_as(&app.admin_token, &path).await;
        assert_problem(response, 404, "order_not_found").await;
    }
    let response = app
        .post_as(&app.shopper_token, &format!("/v1/orders/{unknown}/cancel"))
        .await;
    assert_problem(response, 404, "order_not_found").await;
    let response = app
        .get_as(&app.shopper_token, "/v1/orders/not-a-uuid")
        .await;
    assert!(response.status().is_client_error());
    assert_eq!(
        response.headers()["content-type"],
        crate::helpers::PROBLEM_JSON
    );
}

#[tokio::test]
async fn illegal_transitions_are_conflicts_that_name_the_current_state() {
    let app = spawn_app().await;
    let order_id = app.accepted_order().await;

    let accept = app
        .post_as(
            &app.shopper_token,
            &format!("/v1/orders/{order_id}/revised-price/accept"),
        )
        .await;
    let problem = assert_problem(accept, 409, "illegal_transition").await;
    assert_eq!(problem["current_status"], "received");
    assert_eq!(problem["action"], "accept_revised_price");

    let cancel = app
        .post_as(&app.shopper_token, &format!("/v1/orders/{order_id}/cancel"))
        .await;
    assert_eq!(cancel.status(), 200);
    let again = app
        .post_as(&app.shopper_token, &format!("/v1/orders/{order_id}/cancel"))
        .await;
    let problem = assert_problem(again, 409, "illegal_transition").await;
    assert_eq!(problem["current_status"], "cancelled");

    let refuse = app
        .post_as(
            &app.shopper_token,
            &format!("/v1/orders/{order_id}/revised-price/refuse"),
        )
        .await;
    assert_problem(refuse, 409, "illegal_transition").await;
}

#[tokio::test]
async fn bad_admin_search_parameters_are_refused_with_400() {
    let app = spawn_app().await;
    for query in [
        "status=shipped",
        "pincode=12ab",
        "created_from=yesterday",
        "created_from=2026-02-01T00:00:00Z&created_to=2026-01-01T00:00:00Z",
        "stuck_for_minutes=0",
        "stuck_for_minutes=-5",
        "per_page=1000",
        "page=0",
    ] {
        let response = app
            .get_as(&app.admin_token, &format!("/v1/admin/orders?{query}"))
            .await;
        assert_problem(response, 400, "invalid_query_parameter").await;
    }
}

#[tokio::test]
async fn an_admin_cancel_needs_a_reason() {
    let app = spawn_app().await;
    let order_id = app.accepted_order().await;
    let response = app
        .client
        .post(app.url(&format!("/v1/admin/orders/{order_id}/cancel")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"reason": "  "}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "validation_failed").await;
}

#[tokio::test]
async fn every_operation_declares_what_the_shell_answers_before_its_handler() {
    let app = spawn_app().await;
    let document: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    platform::testing::assert_shell_answers_declared(&document);
}
