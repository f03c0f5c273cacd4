//! Every class of bad input gets a 4xx problem+json with a stable code, never a 5xx.

use std::collections::BTreeSet;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::list_probe::{EXTREME_PAGING, assert_each_query_refused, paged_routes};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    JWT_SECRET, TestApp, TestOptions, assert_problem, fixture, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn malformed_json_is_a_400_and_a_wrong_type_or_unknown_field_a_422() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/v1/quotes", &app.shopper_token)
        .header("content-type", "application/json")
        .body(r#"{"variant_id": "#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "malformed_json").await;
    for body in [
        json!({"variant_id": 5, "answers": [], "pincode": "560001"}),
        json!({"variant_id": uuid::Uuid::new_v4(), "answers": [], "pincode": 560001}),
        json!({"variant_id": uuid::Uuid::new_v4(), "answers": [], "pincode": "560001", "coupon": "x"}),
        json!({"variant_id": uuid::Uuid::new_v4(), "answers": [{"question_id": "q"}], "pincode": "560001"}),
        json!({"answers": [], "pincode": "560001"}),
    ] {
        let response = app.post_quote(&body).await;
        assert_problem(response, 422, "invalid_body").await;
    }
}

#[tokio::test]
async fn an_oversized_body_is_a_413_and_a_non_json_body_a_415() {
    let app = spawn_app_with(TestOptions {
        max_body_bytes: Some(1024),
        ..TestOptions::default()
    })
    .await;
    let response = app
        .post_quote(&json!({"variant_id": uuid::Uuid::new_v4(), "answers": [], "pincode": "5".repeat(4000)}))
        .await;
    assert_problem(response, 413, "payload_too_large").await;
    let response = app
        .request(Method::POST, "/v1/quotes", &app.shopper_token)
        .header("content-type", "text/plain")
        .body("variant=1")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_a_400_and_an_unknown_route_a_404() {
    let app = spawn_app().await;
    let response = app
        .request(Method::GET, "/v1/quotes/not-a-uuid", &app.admin_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_path_parameter").await;
    let response = app
        .admin(Method::DELETE, "/v1/admin/pricing/adjustments/42")
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_path_parameter").await;
    let response = app
        .request(Method::GET, "/v1/quotes-everywhere", &app.admin_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "route_not_found").await;
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_a_405_naming_the_methods_it_does() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (
            Method::PUT,
            "/v1/quotes/0190d6a4-7b1c-7cc0-8000-000000000001",
            "GET",
        ),
        (Method::PATCH, "/v1/quotes", "POST"),
        (
            Method::PATCH,
            "/v1/admin/pricing/adjustments/0190d6a4-7b1c-7cc0-8000-000000000001",
            "DELETE, GET",
        ),
        (
            Method::GET,
            "/v1/quotes/0190d6a4-7b1c-7cc0-8000-000000000001/lock",
            "POST",
        ),
    ] {
        let response = app
            .request(method.clone(), path, &app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["allow"].to_str().unwrap(),
            allow,
            "{method} {path}"
        );
        assert_problem(response, 405, "method_not_allowed").await;
    }
    let response = app
        .request(Method::PUT, "/v1/quotes/x/y/z", &app.admin_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "route_not_found").await;
}

#[tokio::test]
async fn a_missing_garbage_forged_or_expired_token_is_a_401() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v1/admin/pricing/adjustments"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "missing_token").await;
    let response = app
        .request(Method::GET, "/v1/admin/pricing/adjustments", "not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
    let now = chrono::Utc::now().timestamp();
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "mallory", "role": "admin", "iat": now, "exp": now + 600}),
        &EncodingKey::from_secret(b"some-other-secret-that-is-long-enough"),
    )
    .unwrap();
    let response = app
        .request(Method::GET, "/v1/admin/pricing/adjustments", &forged)
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "admin-1", "role": "admin", "iat": now - 7200, "exp": now - 3600, "iss": "recommerce", "aud": "recommerce-api"}),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let response = app
        .request(Method::GET, "/v1/admin/pricing/adjustments", &expired)
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "expired_token").await;
}

#[tokio::test]
async fn no_bad_request_ever_gets_a_5xx() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let quote = fixture.flawless_quote().await;
    let id = quote["id"].as_str().unwrap();
    let bodies = [
        "",
        "null",
        "{}",
        "[]",
        "\"text\"",
        "{\"answers\": null}",
        "{\"answers\": [{\"question_id\": 1, \"option_id\": 2}]}",
        "{\"order_id\": \"x\", \"shopper_id\": 5}",
        "{\"percent_basis_points\": 1e99}",
        "{\"starts_at\": \"yesterday\"}",
        "\u{0}\u{1}garbage",
    ];
    let targets = [
        (Method::POST, "/v1/quotes".to_owned(), &app.shopper_token),
        (
            Method::POST,
            format!("/v1/quotes/{id}/lock"),
            &app.service_token,
        ),
        (
            Method::POST,
            format!("/v1/quotes/{id}/requote"),
            &app.service_token,
        ),
        (
            Method::POST,
            "/v1/admin/pricing/adjustments".to_owned(),
            &app.admin_token,
        ),
    ];
    for (method, path, token) in &targets {
        for body in bodies {
            let response = app
                .request(method.clone(), path, token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{method} {path} with {body:?} answered {status}"
            );
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/problem+json")
            );
        }
    }
    let read: serde_json::Value = app
        .admin(Method::GET, &format!("/v1/quotes/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "active", "untouched by all of that");
}

#[tokio::test]
async fn a_caller_without_the_role_is_refused_before_the_body_or_path_is_looked_at() {
    let app = spawn_app().await;
    let shopper = app.token(platform::auth::Role::Shopper);
    let partner = app.partner_token(uuid::Uuid::new_v4());
    let routes = [
        (Method::POST, "/v1/admin/pricing/adjustments", &shopper),
        (
            Method::GET,
            "/v1/admin/pricing/adjustments?page=-1",
            &shopper,
        ),
        (
            Method::GET,
            "/v1/admin/pricing/adjustments/not-a-uuid",
            &shopper,
        ),
        (Method::POST, "/v1/quotes/not-a-uuid/lock", &shopper),
        (Method::POST, "/v1/quotes/not-a-uuid/requote", &shopper),
        (Method::POST, "/v1/quotes", &partner),
    ];
    for (method, path, token) in routes {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 403, "forbidden").await;
        assert!(
            !problem.to_string().contains("missing field"),
            "{method} {path} leaked its schema: {problem}"
        );
    }
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
async fn every_list_route_refuses_extreme_paging_with_a_400_problem() {
    // With a broker, so the dead-letter and parked-event lists are mounted too.
    let broker = platform::testing::TestBroker::start();
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;
    let dead_letters = vec!["include_replayed=maybe".to_owned()];
    let routes: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "/v1/admin/pricing/adjustments",
            &app.admin_token,
            Vec::new(),
        ),
        (
            "/v1/admin/pricing/dead-letters",
            &app.admin_token,
            dead_letters,
        ),
        (
            "/v1/admin/pricing/outbox/parked",
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
