use std::collections::BTreeSet;

use platform::auth::Role;

use platform::list_probe::{EXTREME_PAGING, assert_each_query_refused, paged_routes};
use platform::testing::assert_problem;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, ids, spawn_app};

#[tokio::test]
async fn partner_input_is_checked_field_by_field_and_malformed_requests_get_problems() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            &app.admin_token,
            "/v1/admin/partners",
            &json!({"name": " ", "kind": "courier", "pincodes": ["012345", "56001"], "daily_capacity": 0}),
        )
        .await;
    let body = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "kind",
            "pincodes[0]",
            "pincodes[1]",
            "daily_capacity"
        ]
    );

    let malformed = app
        .client
        .post(app.url("/v1/admin/partners"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 400, "malformed_json").await;
    let wrong_type = app
        .post_json(
            &app.admin_token,
            "/v1/admin/partners",
            &json!({"name": "x", "kind": "repair", "pincodes": "560001", "daily_capacity": 1}),
        )
        .await;
    assert_problem(wrong_type, 422, "invalid_body").await;
    let unknown_field = app
        .post_json(&app.admin_token, "/v1/admin/partners", &json!({"name": "x", "kind": "repair", "pincodes": ["560001"], "daily_capacity": 1, "vip": true}))
        .await;
    assert_problem(unknown_field, 422, "invalid_body").await;
    let huge = app
        .client
        .post(app.url("/v1/admin/partners"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    assert_problem(huge, 413, "payload_too_large").await;

    let unknown = Uuid::new_v4();
    assert_problem(
        app.get_as(&app.admin_token, &format!("/v1/admin/partners/{unknown}"))
            .await,
        404,
        "partner_not_found",
    )
    .await;
    assert_problem(
        app.get_as(&app.admin_token, &format!("/v1/admin/jobs/{unknown}"))
            .await,
        404,
        "job_not_found",
    )
    .await;
    assert_problem(
        app.get_as(&app.admin_token, "/v1/admin/jobs?status=lost")
            .await,
        400,
        "invalid_query_parameter",
    )
    .await;
    assert_problem(
        app.get_as(&app.admin_token, "/v1/admin/jobs?per_page=1000")
            .await,
        400,
        "invalid_query_parameter",
    )
    .await;
    assert_problem(
        app.get_as(&app.admin_token, "/v1/admin/partners/not-a-uuid")
            .await,
        400,
        "invalid_path_parameter",
    )
    .await;

    let anonymous = app
        .client
        .get(app.url("/v1/admin/jobs"))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "missing_token").await;
    let forged = app.get_as("not.a.token", "/v1/admin/jobs").await;
    assert_problem(forged, 401, "invalid_token").await;
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "admin-1", "role": "admin", "iat": 1, "exp": 2, "iss": "recommerce", "aud": "recommerce-api"}),
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_problem(
        app.get_as(&expired, "/v1/admin/jobs").await,
        401,
        "expired_token",
    )
    .await;
}

#[tokio::test]
async fn a_partner_reads_only_its_own_record_and_jobs_and_cannot_write() {
    let app = spawn_app().await;
    let owner = app.partner("logistics", &["560001"], 10).await;
    let intruder = app.partner("logistics", &["110001"], 10).await;
    let order_id = app.confirmed_order("560001").await;
    let job = app
        .wait_for_job(order_id, "pickup", "offered", |job| {
            job["status"] == "offered"
        })
        .await;
    let job_id = job["id"].as_str().unwrap();

    let theirs = app.partner_token(intruder);
    assert_problem(
        app.get_as(&theirs, &format!("/v1/admin/jobs/{job_id}"))
            .await,
        404,
        "job_not_found",
    )
    .await;
    assert_problem(
        app.get_as(&theirs, &format!("/v1/admin/partners/{owner}"))
            .await,
        404,
        "partner_not_found",
    )
    .await;
    let jobs: serde_json::Value = app
        .get_as(&theirs, "/v1/admin/jobs")
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&jobs).is_empty());
    let asked: serde_json::Value = app
        .get_as(&theirs, &format!("/v1/admin/jobs?partner_id={owner}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&asked).is_empty());
    let partners: serde_json::Value = app
        .get_as(&theirs, "/v1/admin/partners")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&partners), [intruder.to_string()]);

    let mine = app.partner_token(owner);
    assert_eq!(
        app.get_as(&mine, &format!("/v1/admin/jobs/{job_id}"))
            .await
            .status(),
        200
    );
    let own_jobs: serde_json::Value = app
        .get_as(&mine, "/v1/admin/jobs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&own_jobs), [job_id]);

    let write = app
        .post_json(
            &mine,
            "/v1/admin/partners",
            &json!({"name": "x", "kind": "repair", "pincodes": ["560001"], "daily_capacity": 1}),
        )
        .await;
    assert_problem(write, 403, "forbidden").await;
    let shopper = app.token(Role::Shopper);
    assert_problem(
        app.get_as(&shopper, "/v1/admin/jobs").await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get_as(&shopper, &format!("/v1/admin/partners/{owner}"))
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_caller_without_the_role_is_refused_before_the_body_or_path_is_looked_at() {
    let app = spawn_app().await;
    let shopper = app.token(Role::Shopper);
    let partner = app.partner_token(uuid::Uuid::new_v4());
    let routes = [
        (reqwest::Method::POST, "/v1/admin/partners", &shopper),
        (reqwest::Method::POST, "/v1/admin/partners", &partner),
        (
            reqwest::Method::PATCH,
            "/v1/admin/partners/not-a-uuid",
            &partner,
        ),
        (reqwest::Method::GET, "/v1/admin/partners?page=-1", &shopper),
        (reqwest::Method::GET, "/v1/admin/jobs/not-a-uuid", &shopper),
        (
            reqwest::Method::POST,
            "/v1/admin/jobs/not-a-uuid/assign",
            &partner,
        ),
    ];
    for (method, path, token) in routes {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(token)
            .json(&serde_json::json!({}))
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
    let app = spawn_app().await;
    let dead_letters = vec!["include_replayed=maybe".to_owned()];
    let routes: Vec<(&str, &str, Vec<String>)> = vec![
        ("/v1/admin/jobs", &app.admin_token, Vec::new()),
        (
            "/v1/admin/partners",
            &app.admin_token,
            vec!["active=maybe".to_owned()],
        ),
        (
            "/v1/admin/jobs/dead-letters",
            &app.admin_token,
            dead_letters,
        ),
        ("/v1/admin/jobs/outbox/parked", &app.admin_token, Vec::new()),
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
