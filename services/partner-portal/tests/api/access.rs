use platform::auth::Role;
use platform::testing::{assert_problem, eventually};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{SETTLE, ids, spawn_app};

#[tokio::test]
async fn another_partners_jobs_webhooks_and_deliveries_are_not_found_and_never_listed() {
    let app = spawn_app().await;
    let (owner, intruder) = (Uuid::new_v4(), Uuid::new_v4());
    let owner_token = app.partner_token(owner);
    let intruder_token = app.partner_token(intruder);
    let webhook: Value = app
        .post_as(
            &owner_token,
            "/v1/portal/webhooks",
            &json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    let (_, job_id) = app.offered_job(owner, "pickup").await;
    eventually(
        SETTLE,
        "the offer is queued for the owner's webhook",
        || async {
            !ids(&app
                .json_as(&owner_token, "/v1/portal/webhooks/deliveries")
                .await)
            .is_empty()
        },
    )
    .await;
    let delivery_id = ids(&app
        .json_as(&owner_token, "/v1/portal/webhooks/deliveries")
        .await)[0]
        .clone();

    let foreign = [
        (
            Method::GET,
            format!("/v1/portal/jobs/{job_id}"),
            "job_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/jobs/{job_id}/accept"),
            "job_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/jobs/{job_id}/decline"),
            "job_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/jobs/{job_id}/picked-up"),
            "job_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/jobs/{job_id}/delivered"),
            "job_not_found",
        ),
        (
            Method::DELETE,
            format!("/v1/portal/webhooks/{webhook_id}"),
            "webhook_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/webhooks/{webhook_id}/rotate-secret"),
            "webhook_not_found",
        ),
        (
            Method::GET,
            format!("/v1/portal/webhooks/deliveries/{delivery_id}"),
            "delivery_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/webhooks/deliveries/{delivery_id}/redeliver"),
            "delivery_not_found",
        ),
    ];
    for (method, path, code) in foreign {
        let mut request = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(&intruder_token);
        if path.ends_with("/decline") {
            request = request.json(&json!({"reason": "mine now"}));
        }
        assert_problem(request.send().await.unwrap(), 404, code).await;
    }
    let report = app
        .post_as(
            &intruder_token,
            &format!("/v1/portal/jobs/{job_id}/inspection-report"),
            &json!({"answers": [{"question_id": Uuid::new_v4(), "option_id": Uuid::new_v4()}]}),
        )
        .await;
    assert_problem(report, 404, "job_not_found").await;
    for path in [
        "/v1/portal/jobs",
        "/v1/portal/webhooks",
        "/v1/portal/webhooks/deliveries",
    ] {
        assert!(
            ids(&app.json_as(&intruder_token, path).await).is_empty(),
            "{path}"
        );
    }
    // The owner still has everything, untouched.
    assert_eq!(
        ids(&app.json_as(&owner_token, "/v1/portal/jobs").await),
        [job_id.to_string()]
    );
    assert_eq!(
        ids(&app.json_as(&owner_token, "/v1/portal/webhooks").await),
        [webhook_id]
    );
}

#[tokio::test]
async fn shoppers_and_partners_stay_out_of_admin_routes_and_a_disabled_user_is_refused() {
    let app = spawn_app().await;
    let shopper = app.token(Role::Shopper);
    let partner_id = Uuid::new_v4();
    let (user_id, user_token) = app.portal_user(partner_id).await;
    let any = Uuid::new_v4();
    let portal_routes = [
        (Method::GET, "/v1/portal/jobs".to_owned()),
        (Method::GET, format!("/v1/portal/jobs/{any}")),
        (Method::POST, format!("/v1/portal/jobs/{any}/accept")),
        (Method::POST, format!("/v1/portal/jobs/{any}/picked-up")),
        (Method::POST, format!("/v1/portal/jobs/{any}/delivered")),
        (Method::GET, "/v1/portal/webhooks".to_owned()),
        (Method::DELETE, format!("/v1/portal/webhooks/{any}")),
        (
            Method::POST,
            format!("/v1/portal/webhooks/{any}/rotate-secret"),
        ),
        (Method::GET, "/v1/portal/webhooks/deliveries".to_owned()),
        (Method::GET, format!("/v1/portal/webhooks/deliveries/{any}")),
        (
            Method::POST,
            format!("/v1/portal/webhooks/deliveries/{any}/redeliver"),
        ),
    ];
    let admin_routes = [
        (Method::GET, "/v1/portal/admin/users".to_owned()),
        (Method::GET, format!("/v1/portal/admin/users/{user_id}")),
        (
            Method::POST,
            format!("/v1/portal/admin/users/{user_id}/tokens"),
        ),
        (Method::GET, "/v1/portal/admin/jobs".to_owned()),
        (Method::GET, format!("/v1/portal/admin/jobs/{any}")),
        (
            Method::GET,
            "/v1/portal/admin/webhooks/deliveries".to_owned(),
        ),
        (
            Method::GET,
            format!("/v1/portal/admin/webhooks/deliveries/{any}"),
        ),
        (
            Method::POST,
            format!("/v1/portal/admin/webhooks/deliveries/{any}/redeliver"),
        ),
    ];
    for (method, path) in portal_routes.iter().chain(&admin_routes) {
        let response = app.send_as(method.clone(), &shopper, path, None).await;
        assert_eq!(response.status(), 403, "shopper: {method} {path}");
        assert_problem(response, 403, "forbidden").await;
    }
    for (method, path) in &admin_routes {
        let response = app.send_as(method.clone(), &user_token, path, None).await;
        assert_eq!(response.status(), 403, "partner: {method} {path}");
        assert_problem(response, 403, "forbidden").await;
    }
    for (path, body) in [
        (
            "/v1/portal/admin/users",
            json!({"partner_id": partner_id, "email": "x@y.example", "name": "X"}),
        ),
        (
            "/v1/portal/webhooks",
            json!({"url": "https://hooks.example.com/"}),
        ),
    ] {
        let response = app.post_as(&shopper, path, &body).await;
        assert_problem(response, 403, "forbidden").await;
    }
    let patch = app
        .send_as(
            Method::PATCH,
            &user_token,
            &format!("/v1/portal/admin/users/{user_id}"),
            Some(&json!({"active": true})),
        )
        .await;
    assert_problem(patch, 403, "forbidden").await;
    // A portal user's id in a token for another partner does not open that partner's jobs.
    let borrowed = app
        .authenticator
        .issue(
            &user_id.to_string(),
            Role::Partner,
            Some(Uuid::new_v4()),
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    assert_problem(
        app.get_as(&borrowed, "/v1/portal/jobs").await,
        401,
        "user_disabled",
    )
    .await;
    let issue = app
        .post_as(
            &user_token,
            &format!("/v1/portal/admin/users/{user_id}/tokens"),
            &json!({}),
        )
        .await;
    assert_problem(issue, 403, "forbidden").await;
    // The platform refuses a partner token without its partner outright.
    let no_partner = app.token(Role::Partner);
    assert_problem(
        app.get_as(&no_partner, "/v1/portal/jobs").await,
        401,
        "invalid_token",
    )
    .await;

    assert_eq!(
        app.get_as(&user_token, "/v1/portal/jobs").await.status(),
        200
    );
    let response = app
        .client
        .patch(app.url(&format!("/v1/portal/admin/users/{user_id}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Revoked in every service at once, the portal included.
    assert_problem(
        app.get_as(&user_token, "/v1/portal/jobs").await,
        401,
        "token_revoked",
    )
    .await;
    let token = app
        .post_as(
            &app.admin_token,
            &format!("/v1/portal/admin/users/{user_id}/tokens"),
            &json!({}),
        )
        .await;
    assert_problem(token, 409, "user_inactive").await;
}

#[tokio::test]
async fn malformed_or_invalid_requests_get_problem_answers() {
    let app = spawn_app().await;
    let partner_id = Uuid::new_v4();
    let token = app.partner_token(partner_id);
    let (_, job_id) = app.offered_job(partner_id, "inspection").await;
    let path = format!("/v1/portal/jobs/{job_id}/decline");
    let malformed = app
        .client
        .post(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"reason\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 400, "malformed_json").await;
    assert_problem(
        app.post_as(&token, &path, &json!({"reason": 7})).await,
        422,
        "invalid_body",
    )
    .await;
    assert_problem(
        app.post_as(&token, &path, &json!({"reason": "x", "extra": 1}))
            .await,
        422,
        "invalid_body",
    )
    .await;
    let huge = app
        .post_as(&token, &path, &json!({"reason": "x".repeat(100_000)}))
        .await;
    assert_problem(huge, 413, "payload_too_large").await;
    let long = app
        .post_as(&token, &path, &json!({"reason": "x".repeat(501)}))
        .await;
    assert_problem(long, 422, "validation_failed").await;

    let report = format!("/v1/portal/jobs/{job_id}/inspection-report");
    let same_question = Uuid::new_v4();
    let duplicate = json!({"answers": [
        {"question_id": same_question, "option_id": Uuid::new_v4()},
        {"question_id": same_question, "option_id": Uuid::new_v4()}
    ]});
    let body = assert_problem(
        app.post_as(&token, &report, &duplicate).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "answers");
    assert_problem(
        app.post_as(&token, &report, &json!({"answers": []})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        app.post_as(
            &token,
            &report,
            &json!({"answers": [{"question_id": "q1", "option_id": "o1"}]}),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;

    let unknown = Uuid::new_v4();
    assert_problem(
        app.get_as(&token, &format!("/v1/portal/jobs/{unknown}"))
            .await,
        404,
        "job_not_found",
    )
    .await;
    assert_problem(
        app.get_as(&token, "/v1/portal/jobs?status=lost").await,
        400,
        "invalid_query_parameter",
    )
    .await;
    assert_problem(
        app.get_as(&token, "/v1/portal/jobs/not-a-uuid").await,
        400,
        "invalid_path_parameter",
    )
    .await;
    assert_problem(
        app.client
            .get(app.url("/v1/portal/jobs"))
            .send()
            .await
            .unwrap(),
        401,
        "missing_token",
    )
    .await;
    assert_problem(
        app.get_as("garbage", "/v1/portal/jobs").await,
        401,
        "invalid_token",
    )
    .await;
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "p", "role": "partner", "partner_id": partner_id, "iat": 1, "exp": 2, "iss": "recommerce", "aud": "recommerce-api"}),
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_problem(
        app.get_as(&expired, "/v1/portal/jobs").await,
        401,
        "expired_token",
    )
    .await;
    let user = app
        .post_as(
            &app.admin_token,
            "/v1/portal/admin/users",
            &json!({"partner_id": partner_id, "email": "nope", "name": ""}),
        )
        .await;
    let body = assert_problem(user, 422, "validation_failed").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn unknown_ids_are_not_found_for_partners_and_admins() {
    let app = spawn_app().await;
    let token = app.partner_token(Uuid::new_v4());
    let unknown = Uuid::new_v4();
    let partner_cases = [
        (
            Method::GET,
            format!("/v1/portal/jobs/{unknown}"),
            "job_not_found",
        ),
        (
            Method::DELETE,
            format!("/v1/portal/webhooks/{unknown}"),
            "webhook_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/webhooks/{unknown}/rotate-secret"),
            "webhook_not_found",
        ),
        (
            Method::GET,
            format!("/v1/portal/webhooks/deliveries/{unknown}"),
            "delivery_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/webhooks/deliveries/{unknown}/redeliver"),
            "delivery_not_found",
        ),
    ];
    for (method, path, code) in partner_cases {
        assert_problem(app.send_as(method, &token, &path, None).await, 404, code).await;
    }
    let admin_cases = [
        (
            Method::GET,
            format!("/v1/portal/admin/users/{unknown}"),
            "user_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/admin/users/{unknown}/tokens"),
            "user_not_found",
        ),
        (
            Method::GET,
            format!("/v1/portal/admin/jobs/{unknown}"),
            "job_not_found",
        ),
        (
            Method::GET,
            format!("/v1/portal/admin/webhooks/deliveries/{unknown}"),
            "delivery_not_found",
        ),
        (
            Method::POST,
            format!("/v1/portal/admin/webhooks/deliveries/{unknown}/redeliver"),
            "delivery_not_found",
        ),
    ];
    for (method, path, code) in admin_cases {
        assert_problem(
            app.send_as(method, &app.admin_token, &path, None).await,
            404,
            code,
        )
        .await;
    }
    let patch = app
        .send_as(
            Method::PATCH,
            &app.admin_token,
            &format!("/v1/portal/admin/users/{unknown}"),
            Some(&json!({"active": false})),
        )
        .await;
    assert_problem(patch, 404, "user_not_found").await;
    // A deleted webhook is gone for its owner too.
    let hook = app
        .webhook(&token, "https://hooks.example.com/recommerce")
        .await;
    let path = format!("/v1/portal/webhooks/{hook}");
    assert_eq!(
        app.send_as(Method::DELETE, &token, &path, None)
            .await
            .status(),
        204
    );
    assert_problem(
        app.send_as(Method::DELETE, &token, &path, None).await,
        404,
        "webhook_not_found",
    )
    .await;
    assert!(ids(&app.json_as(&token, "/v1/portal/webhooks").await).is_empty());
}

#[tokio::test]
async fn the_api_describes_every_portal_route_and_reports_its_health() {
    let app = spawn_app().await;
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/portal/jobs",
        "/v1/portal/jobs/{id}/inspection-report",
        "/v1/portal/webhooks/deliveries/{id}/redeliver",
        "/v1/portal/admin/users/{id}/tokens",
        "/v1/portal/admin/jobs",
        "/v1/portal/admin/webhooks/deliveries/{id}",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is documented");
    }
    let address = app.address.clone();
    platform::testing::assert_stops_within_grace(&address, app.stop()).await;
}

#[tokio::test]
async fn a_caller_without_the_role_is_refused_before_the_body_or_path_is_looked_at() {
    let app = spawn_app().await;
    let shopper = app.token(Role::Shopper);
    let job = Uuid::new_v4();
    let inspection = format!("/v1/portal/jobs/{job}/inspection-report");
    let routes = [
        (Method::POST, inspection.as_str()),
        (Method::POST, "/v1/portal/jobs/not-a-uuid/accept"),
        (Method::POST, "/v1/portal/webhooks"),
        (Method::GET, "/v1/portal/jobs?page=-1"),
        (Method::POST, "/v1/portal/admin/users"),
        (Method::PATCH, "/v1/portal/admin/users/not-a-uuid"),
        (Method::GET, "/v1/portal/admin/dead-letters?page=0"),
    ];
    for (method, path) in routes {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&shopper)
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
