//! Every class of bad input gets a 4xx problem+json with a stable code, never a 5xx.

use std::collections::BTreeSet;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::auth::Role;
use platform::list_probe::{EXTREME_PAGING, assert_each_query_refused, paged_routes};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, TestOptions, assert_problem, spawn_app, spawn_app_with};

const MODELS: &str = "/v1/admin/catalog/models";

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let response = app
        .admin(Method::POST, MODELS)
        .header("content-type", "application/json")
        .body(r#"{"brand": "Acme", "name": "#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "malformed_json").await;
}

#[tokio::test]
async fn a_wrong_type_is_a_422_problem() {
    let app = spawn_app().await;
    let response = app
        .admin(Method::POST, MODELS)
        .json(&json!({"brand": "Acme", "name": "X", "category": "phone", "release_year": "last year"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "invalid_body").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("invalid type"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_missing_field_or_an_unknown_field_is_a_422_problem() {
    let app = spawn_app().await;
    for body in [
        json!({"brand": "Acme", "category": "phone", "release_year": 2023}),
        json!({"brand": "Acme", "name": "X", "category": "phone", "release_year": 2023, "colour": "red"}),
        json!([1, 2, 3]),
    ] {
        let response = app
            .admin(Method::POST, MODELS)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(response, 422, "invalid_body").await;
    }
}

#[tokio::test]
async fn values_that_break_the_rules_are_a_422_listing_every_field() {
    let app = spawn_app().await;
    let response = app
        .admin(Method::POST, MODELS)
        .json(&json!({
            "brand": " ", "name": "X", "category": "phone", "release_year": 1990,
            "variants": [{"name": "128 GB", "base_price": {"amount_minor": -5, "currency": "rupees"}}]
        }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "brand",
            "release_year",
            "variants[0].base_price.amount_minor",
            "variants[0].base_price.currency"
        ]
    );
    assert_eq!(
        app.get_json("/v1/devices").await["total"],
        0,
        "nothing half-written"
    );
}

#[tokio::test]
async fn an_oversized_body_is_a_413_problem() {
    let app = spawn_app_with(TestOptions {
        max_body_bytes: Some(1024),
        ..TestOptions::default()
    })
    .await;
    let response = app
        .admin(Method::POST, MODELS)
        .json(&json!({"brand": "Acme", "name": "x".repeat(2000), "category": "phone", "release_year": 2023}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = spawn_app().await;
    let response = app
        .admin(Method::POST, MODELS)
        .header("content-type", "text/plain")
        .body("brand=Acme")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn an_unknown_id_is_a_404_problem() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4();
    let response = app
        .get(&format!("/v1/devices/{unknown}"))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 404, "device_not_found").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&unknown.to_string())
    );
    for (method, path, code) in [
        (
            Method::GET,
            format!("{MODELS}/{unknown}"),
            "device_not_found",
        ),
        (
            Method::DELETE,
            format!("{MODELS}/{unknown}"),
            "device_not_found",
        ),
        (
            Method::DELETE,
            format!("/v1/admin/catalog/variants/{unknown}"),
            "variant_not_found",
        ),
    ] {
        let response = app.admin(method, &path).send().await.unwrap();
        assert_problem(response, 404, code).await;
    }
    let response = app
        .admin(
            Method::PATCH,
            &format!("/v1/admin/catalog/variants/{unknown}"),
        )
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "variant_not_found").await;
}

#[tokio::test]
async fn a_malformed_id_or_category_in_the_path_is_a_400_problem() {
    let app = spawn_app().await;
    let response = app.get("/v1/devices/not-a-uuid").send().await.unwrap();
    let problem = assert_problem(response, 400, "invalid_path_parameter").await;
    // Our words, not the uuid parser's ("invalid character: expected an optional prefix…").
    assert_eq!(problem["detail"], "`id` must be a UUID");
    let response = app
        .admin(Method::GET, "/v1/admin/catalog/questionnaires/toaster")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 400, "invalid_path_parameter").await;
    assert_eq!(
        problem["detail"],
        "`category` is not one of the values this route accepts"
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    let response = app.get("/v1/nothing-here").send().await.unwrap();
    assert_problem(response, 404, "route_not_found").await;
}

#[tokio::test]
async fn a_request_without_a_token_is_a_401_problem() {
    let app = spawn_app().await;
    let response = app.get(MODELS).send().await.unwrap();
    assert_problem(response, 401, "missing_token").await;
    let response = app
        .get(MODELS)
        .header("Authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "missing_token").await;
}

#[tokio::test]
async fn a_garbage_or_foreign_token_is_a_401_problem() {
    let app = spawn_app().await;
    let response = app
        .get(MODELS)
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;

    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "mallory", "role": "admin", "iat": now, "exp": now + 600});
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"some-other-secret-that-is-long-enough"),
    )
    .unwrap();
    let response = app.get(MODELS).bearer_auth(forged).send().await.unwrap();
    assert_problem(response, 401, "invalid_token").await;

    let unknown_role = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "x", "role": "superuser", "iat": now, "exp": now + 600}),
        &EncodingKey::from_secret(app.jwt_secret.as_bytes()),
    )
    .unwrap();
    let response = app
        .get(MODELS)
        .bearer_auth(unknown_role)
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn an_expired_token_is_a_401_problem() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "admin-1", "role": "admin", "iat": now - 7200, "exp": now - 3600, "iss": "recommerce", "aud": "recommerce-api"});
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(app.jwt_secret.as_bytes()),
    )
    .unwrap();
    let response = app.get(MODELS).bearer_auth(expired).send().await.unwrap();
    assert_problem(response, 401, "expired_token").await;
}

#[tokio::test]
async fn a_partner_token_without_a_partner_id_is_a_401_problem() {
    let app = spawn_app().await;
    let token = app
        .authenticator
        .issue("p", Role::Partner, None, Duration::from_secs(60))
        .unwrap();
    let response = app.get(MODELS).bearer_auth(token).send().await.unwrap();
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_valid_token_with_the_wrong_role_is_a_403_problem() {
    let app = spawn_app().await;
    let partner = app
        .authenticator
        .issue(
            "p",
            Role::Partner,
            Some(uuid::Uuid::new_v4()),
            Duration::from_secs(60),
        )
        .unwrap();
    for token in [app.shopper_token.clone(), partner] {
        let response = app
            .client
            .post(app.url(MODELS))
            .bearer_auth(&token)
            .json(&json!({"brand": "Acme", "name": "X", "category": "phone", "release_year": 2023}))
            .send()
            .await
            .unwrap();
        assert_problem(response, 403, "forbidden").await;
    }
    assert_eq!(app.get_json("/v1/devices").await["total"], 0);
}

#[tokio::test]
async fn no_bad_request_ever_gets_a_5xx() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Rocket", "phone", 100).await;
    let id = created["id"].as_str().unwrap();
    let bodies = [
        "",
        "null",
        "{}",
        "[]",
        "\"text\"",
        "{\"name\": null}",
        "{\"name\": 5}",
        "{\"base_price\": {\"amount_minor\": 1e99, \"currency\": \"INR\"}}",
        "{\"release_year\": 99999999999}",
        "{\"questions\": [{\"key\": \"\", \"text\": \"\", \"options\": []}]}",
        "\u{0}\u{1}garbage",
    ];
    let targets = [
        (Method::POST, MODELS.to_owned()),
        (Method::PATCH, format!("{MODELS}/{id}")),
        (Method::POST, format!("{MODELS}/{id}/variants")),
        (
            Method::PATCH,
            format!(
                "/v1/admin/catalog/variants/{}",
                created["variants"][0]["id"].as_str().unwrap()
            ),
        ),
        (
            Method::PUT,
            "/v1/admin/catalog/questionnaires/phone".to_owned(),
        ),
    ];
    for (method, path) in &targets {
        for body in bodies {
            let response = app
                .admin(method.clone(), path)
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
    // The model is untouched by all of that.
    let model: serde_json::Value = app.admin_get(&format!("{MODELS}/{id}")).await;
    assert_eq!(model["version"], 1);
}

#[tokio::test]
async fn a_caller_without_the_role_is_refused_before_the_body_or_path_is_looked_at() {
    let app = spawn_app().await;
    let shopper = app.token(Role::Shopper);
    let routes = [
        (Method::POST, "/v1/admin/catalog/models".to_owned()),
        (
            Method::PATCH,
            "/v1/admin/catalog/models/not-a-uuid".to_owned(),
        ),
        (
            Method::POST,
            "/v1/admin/catalog/models/not-a-uuid/variants".to_owned(),
        ),
        (
            Method::PUT,
            "/v1/admin/catalog/questionnaires/no-such-category".to_owned(),
        ),
        (Method::GET, "/v1/admin/catalog/models?page=-1".to_owned()),
    ];
    for (method, path) in routes {
        let shoppers = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&shopper)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(shoppers, 403, "forbidden").await;
        assert!(
            !problem.to_string().contains("missing field"),
            "{method} {path} leaked its schema: {problem}"
        );
        let anonymous = app
            .client
            .request(method.clone(), app.url(&path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, 401, "missing_token").await;
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
    let routes: Vec<(&str, &str, Vec<String>)> = vec![
        ("/v1/devices", &app.shopper_token, Vec::new()),
        ("/v1/admin/catalog/models", &app.admin_token, Vec::new()),
        (
            "/v1/admin/catalog/outbox/parked",
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

#[tokio::test]
async fn an_unknown_category_is_reported_with_every_other_bad_field_in_one_422() {
    let app = spawn_app().await;
    let model = app.create_model("Acme", "One", "phone", 1_000).await;
    let patch = format!("{MODELS}/{}", model["id"].as_str().unwrap());
    for (method, path) in [(Method::POST, MODELS), (Method::PATCH, patch.as_str())] {
        let response = app
            .admin(method, path)
            .json(
                &json!({"brand": "Acme", "name": "X", "category": "toaster", "release_year": 1999}),
            )
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation_failed").await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["category", "release_year"], "{problem}");
    }
}
