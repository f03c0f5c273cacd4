use std::collections::BTreeSet;

use platform::auth::Role;

use platform::list_probe::{
    EXTREME_PAGING, assert_each_query_refused, extreme_dates, extreme_numbers, paged_routes,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, assert_problem, order_body, spawn_app, spawn_app_with};

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

/// A window or payout method the code does not know is a value breaking a rule, listed
/// with every other one, not a body of the wrong shape (`invalid_body`, first error only).
#[tokio::test]
async fn an_unknown_window_and_an_unknown_payout_method_are_listed_together_in_one_422() {
    let app = spawn_app().await;
    let mut body = order_body(Uuid::new_v4());
    body["pickup"]["slot"]["window"] = json!("midnight");
    body["payout"]["method"] = json!("cheque");
    body["pickup"]["pincode"] = json!("012345");
    let response = app.place_order("unknown-names", &body).await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["pickup.pincode", "pickup.slot.window", "payout.method"],
        "{problem}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM idempotency_keys").await, 0);

    // Fixed, the same key places the order: a refused request does not use up its key.
    let mut fixed = order_body(Uuid::new_v4());
    fixed["pickup"]["slot"]["window"] = json!("evening");
    fixed["payout"] = json!({
        "method": "bank_transfer",
        "details": {"account_name": "Asha", "account_number": "12345678", "ifsc": "HDFC0001234"}
    });
    let response = app.place_order("unknown-names", &fixed).await;
    assert_eq!(response.status(), 202);
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

/// The query values no list route may take, for every list route (the OpenAPI document's
/// paged routes, and any list it should show paged): each is a 400 problem, never a 5xx or
/// a dropped connection (issue 18, item 4: no input can crash a worker).
#[tokio::test]
async fn every_list_route_refuses_extreme_paging_numbers_and_dates_with_a_400_problem() {
    // With a broker, so the dead-letter and parked-event lists are mounted too.
    let broker = platform::testing::TestBroker::start();
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;
    let search = [
        extreme_numbers("stuck_for_minutes"),
        // Zero, and the largest u32: minutes back past any date the database holds.
        vec![
            "stuck_for_minutes=0".to_owned(),
            "stuck_for_minutes=4294967295".to_owned(),
        ],
        extreme_dates("created_from"),
        extreme_dates("created_to"),
    ]
    .concat();
    let dead_letters = vec!["include_replayed=maybe".to_owned()];
    let routes: Vec<(&str, &str, Vec<String>)> = vec![
        ("/v1/orders", &app.shopper_token, Vec::new()),
        ("/v1/admin/orders", &app.admin_token, search),
        (
            "/v1/admin/orders/dead-letters",
            &app.admin_token,
            dead_letters,
        ),
        (
            "/v1/admin/orders/outbox/parked",
            &app.admin_token,
            Vec::new(),
        ),
    ];
    assert_every_list_route_refuses(&app, &app.admin_token, &routes).await;
}

/// Drives each of `routes` (path, a token that may list it, its own numeric or date query
/// values) with [`EXTREME_PAGING`] and its own values, after checking that they are every
/// paged route of the OpenAPI document.
async fn assert_every_list_route_refuses(
    app: &TestApp,
    admin_token: &str,
    routes: &[(&str, &str, Vec<String>)],
) {
    let document: serde_json::Value = app
        .get_as(admin_token, "/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let driven: BTreeSet<String> = routes.iter().map(|(path, ..)| (*path).to_owned()).collect();
    assert_eq!(
        paged_routes(&document),
        driven,
        "the OpenAPI document's paged routes are the ones driven here"
    );
    for (path, token, own) in routes {
        let queries: Vec<String> = EXTREME_PAGING
            .iter()
            .map(|query| (*query).to_owned())
            .chain(own.iter().cloned())
            .collect();
        assert_each_query_refused(
            &app.client,
            &app.address,
            token,
            path,
            &queries,
            "invalid_query_parameter",
        )
        .await;
    }
}
