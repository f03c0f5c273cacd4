//! The document is the contract: what each route can answer, with its codes, and the limits
//! and names the code checks, so that a client built from it is not refused a request it
//! allows, and reads every answer it gets.

use partner_portal::domain::user::{MAX_EMAIL_CHARS, MAX_NAME_CHARS, is_email_address};
use partner_portal::domain::webhook::{MAX_URL_CHARS, UrlRefused};
use partner_portal::domain::{DeliveryStatus, JobKind, JobStatus, Source, WebhookEvent};
use partner_portal::routes::dto::{
    MAX_DECLINE_REASON_CHARS, MAX_INSPECTION_ANSWERS, MAX_INSPECTION_NOTES_CHARS,
};
use platform::pagination::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
use platform::testing::{
    assert_declares, assert_document_is_sound, assert_every_id_operation_declares_404,
    assert_paging_declared, assert_problem, field_schema, operation, operations, parameter,
};
use reqwest::Method;
use serde_json::{Value, json};
use strum::IntoEnumIterator;
use uuid::Uuid;

use crate::helpers::{SETTLE, TestApp, spawn_app};

async fn document_of(app: &TestApp) -> Value {
    app.get_as(&app.admin_token, "/openapi.json")
        .await
        .json()
        .await
        .unwrap()
}

async fn document() -> Value {
    document_of(&spawn_app().await).await
}

/// The names of every value of `E`, as the code writes and parses them.
fn names<E: IntoEnumIterator + Into<&'static str>>() -> Value {
    E::iter().map(Into::<&'static str>::into).collect()
}

/// The query parameter `name` of `method path`.
/// Fails unless `body` has every field the component schema `schema` requires, and every
/// enum field of it holds one of the schema's names.
fn assert_fits(document: &Value, schema: &str, body: &Value) {
    let component = &document["components"]["schemas"][schema];
    for required in component["required"].as_array().unwrap() {
        let name = required.as_str().unwrap();
        assert!(!body[name].is_null(), "{schema} requires {name}: {body}");
    }
    for (name, field) in component["properties"].as_object().unwrap() {
        if let Some(allowed) = field["enum"].as_array() {
            assert!(allowed.contains(&body[name]), "{schema}.{name}: {body}");
        }
    }
}

#[tokio::test]
async fn the_document_is_sound_openapi_3_1_whose_references_and_links_resolve() {
    assert_document_is_sound(&document().await);
}

#[tokio::test]
async fn every_operation_on_an_id_declares_its_404_with_the_code() {
    let document = document().await;
    assert_every_id_operation_declares_404(&document, &[]);
    let cases = [
        ("get", "/v1/portal/jobs/{id}", "job_not_found"),
        ("post", "/v1/portal/jobs/{id}/accept", "job_not_found"),
        ("post", "/v1/portal/jobs/{id}/decline", "job_not_found"),
        ("post", "/v1/portal/jobs/{id}/picked-up", "job_not_found"),
        ("post", "/v1/portal/jobs/{id}/delivered", "job_not_found"),
        (
            "post",
            "/v1/portal/jobs/{id}/inspection-report",
            "job_not_found",
        ),
        ("delete", "/v1/portal/webhooks/{id}", "webhook_not_found"),
        (
            "post",
            "/v1/portal/webhooks/{id}/rotate-secret",
            "webhook_not_found",
        ),
        (
            "get",
            "/v1/portal/webhooks/deliveries/{id}",
            "delivery_not_found",
        ),
        (
            "post",
            "/v1/portal/webhooks/deliveries/{id}/redeliver",
            "delivery_not_found",
        ),
        ("get", "/v1/portal/admin/users/{id}", "user_not_found"),
        ("patch", "/v1/portal/admin/users/{id}", "user_not_found"),
        (
            "post",
            "/v1/portal/admin/users/{id}/tokens",
            "user_not_found",
        ),
        ("get", "/v1/portal/admin/jobs/{id}", "job_not_found"),
        (
            "get",
            "/v1/portal/admin/webhooks/deliveries/{id}",
            "delivery_not_found",
        ),
        (
            "post",
            "/v1/portal/admin/webhooks/deliveries/{id}/redeliver",
            "delivery_not_found",
        ),
    ];
    for (method, path, code) in cases {
        assert_declares(&document, method, path, 404, &[code]);
    }
    // The portal's own operations on an id are exactly these (the platform's dead letters
    // and parked events declare their own).
    let own: Vec<String> = operations(&document)
        .into_iter()
        .filter(|(path, ..)| path.contains("{id}") && !path.contains("/dead-letters/"))
        .map(|(path, method, _)| format!("{method} {path}"))
        .collect();
    assert_eq!(own.len(), cases.len(), "{own:?}");
}

#[tokio::test]
async fn job_reports_declare_illegal_transitions_concurrent_updates_and_the_coordinator() {
    let document = document().await;
    for action in [
        "accept",
        "decline",
        "picked-up",
        "delivered",
        "inspection-report",
    ] {
        let path = format!("/v1/portal/jobs/{{id}}/{action}");
        assert_declares(
            &document,
            "post",
            &path,
            409,
            &["illegal_transition", "concurrent_update"],
        );
        assert_declares(
            &document,
            "post",
            &path,
            503,
            &["coordinator_unavailable", "overloaded"],
        );
        let unavailable = &operation(&document, "post", &path)["responses"]["503"];
        assert!(
            unavailable["headers"]["Retry-After"].is_object(),
            "{unavailable}"
        );
    }
    // Reading needs no lease: no 409, and no 503 but admission's.
    let read = &operation(&document, "get", "/v1/portal/jobs/{id}")["responses"];
    assert!(read["409"].is_null(), "{read}");
    assert!(
        !read["503"]["description"]
            .as_str()
            .unwrap()
            .contains("coordinator_unavailable"),
        "{read}"
    );
}

#[tokio::test]
async fn user_and_webhook_writes_declare_their_own_refusals() {
    let document = document().await;
    assert_declares(
        &document,
        "post",
        "/v1/portal/admin/users",
        409,
        &["email_taken"],
    );
    assert_declares(
        &document,
        "post",
        "/v1/portal/admin/users/{id}/tokens",
        409,
        &["user_inactive"],
    );
    let mut refusals = vec!["invalid_body", "webhook_url_refused"];
    refusals.extend(UrlRefused::iter().map(UrlRefused::reason));
    assert_eq!(refusals.len(), 8, "{refusals:?}");
    assert_declares(&document, "post", "/v1/portal/webhooks", 422, &refusals);
    assert_declares(
        &document,
        "post",
        "/v1/portal/admin/users",
        422,
        &["invalid_body", "validation_failed"],
    );
}

#[tokio::test]
async fn partner_routes_declare_a_disabled_user_and_admin_routes_the_platforms_401() {
    let document = document().await;
    let mut partner_routes = 0;
    for (path, method, operation) in operations(&document) {
        if !path.starts_with("/v1/portal/") {
            continue;
        }
        let unauthorized = operation["responses"]["401"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            unauthorized.contains("`token_revoked`"),
            "{method} {path}: {unauthorized}"
        );
        let admin = path.starts_with("/v1/portal/admin/");
        assert_eq!(
            unauthorized.contains("`user_disabled`"),
            !admin,
            "{method} {path}: {unauthorized}"
        );
        partner_routes += usize::from(!admin);
    }
    assert_eq!(partner_routes, 14);
}

#[tokio::test]
async fn the_limits_the_code_checks_are_in_the_schemas() {
    let document = document().await;
    let field = |schema: &str, path: &str| field_schema(&document, schema, path).clone();
    assert_eq!(
        field("DeclineRequest", "reason")["maxLength"],
        MAX_DECLINE_REASON_CHARS
    );
    let answers = field("InspectionReportRequest", "answers");
    assert_eq!(
        (answers["minItems"].clone(), answers["maxItems"].clone()),
        (json!(1), json!(MAX_INSPECTION_ANSWERS))
    );
    assert_eq!(
        field("InspectionReportRequest", "notes")["maxLength"],
        MAX_INSPECTION_NOTES_CHARS
    );
    assert_eq!(
        field("NewWebhookRequest", "url")["maxLength"],
        MAX_URL_CHARS
    );
    assert_eq!(
        field("NewUserRequest", "email")["maxLength"],
        MAX_EMAIL_CHARS
    );
    let email_pattern = field("NewUserRequest", "email")["pattern"]
        .as_str()
        .map(|pattern| regex::Regex::new(pattern).unwrap())
        .unwrap();
    for email in [
        "dispatch@partner.example",
        "  dispatch@partner.example\u{85}",
        "dispatch@partner.",
        "dispatch@.example",
        "@partner.example",
        "dis patch@partner.example",
        "dispatch@partner\u{85}x.example",
        "dispatch@partner\u{1c}x.example",
        "dispatch@partner",
    ] {
        assert_eq!(
            email_pattern.is_match(email),
            is_email_address(&email.trim().to_lowercase()),
            "{email:?}"
        );
    }
    for schema in ["NewUserRequest", "UserChangeRequest"] {
        let name = field(schema, "name");
        assert_eq!(name["maxLength"], MAX_NAME_CHARS, "{schema}");
        assert_eq!(name["minLength"], 1, "{schema}");
    }
    let lists = [
        ("/v1/portal/jobs", DEFAULT_PER_PAGE),
        ("/v1/portal/webhooks", MAX_PER_PAGE),
        ("/v1/portal/webhooks/deliveries", DEFAULT_PER_PAGE),
        ("/v1/portal/admin/users", DEFAULT_PER_PAGE),
        ("/v1/portal/admin/jobs", DEFAULT_PER_PAGE),
        ("/v1/portal/admin/webhooks/deliveries", DEFAULT_PER_PAGE),
    ];
    for (path, default_per_page) in lists {
        assert_paging_declared(&document, path);
        let per_page = &parameter(&document, "get", path, "per_page")["schema"];
        assert_eq!(per_page["default"], default_per_page, "{path}");
    }
}

/// `GET /v1/portal/webhooks` answers one page of 100 when `per_page` is not given, as its
/// parameter's `default` says (the other lists, 20).
#[tokio::test]
async fn the_webhook_list_pages_by_the_default_it_declares() {
    let app = spawn_app().await;
    let token = app.partner_token(Uuid::new_v4());
    let document = document_of(&app).await;
    for path in ["/v1/portal/webhooks", "/v1/portal/webhooks/deliveries"] {
        let declared = &parameter(&document, "get", path, "per_page")["schema"]["default"];
        let list = app.json_as(&token, path).await;
        assert_eq!(&list["per_page"], declared, "{path}");
    }
}

/// `partner_id` filters the admins' lists; the partner's own lists do not take it, so a
/// partner naming one, even itself, is refused like any parameter its route does not take.
#[tokio::test]
async fn only_the_admin_lists_take_a_partner_id() {
    let app = spawn_app().await;
    let document = document_of(&app).await;
    let partner_id = Uuid::new_v4();
    let token = app.partner_token(partner_id);
    let names = |path: &str| -> Vec<String> {
        operation(&document, "get", path)["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|parameter| parameter["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for (own, admin) in [
        ("/v1/portal/jobs", "/v1/portal/admin/jobs"),
        (
            "/v1/portal/webhooks/deliveries",
            "/v1/portal/admin/webhooks/deliveries",
        ),
    ] {
        assert!(!names(own).contains(&"partner_id".to_owned()), "{own}");
        assert!(names(admin).contains(&"partner_id".to_owned()), "{admin}");
        let response = app
            .get_as(&token, &format!("{own}?partner_id={partner_id}"))
            .await;
        assert_problem(response, 400, "invalid_query_parameter").await;
        let list = app.json_as(&token, own).await;
        assert_eq!(list["total"], 0, "{own}");
    }
}

#[tokio::test]
async fn fields_holding_a_name_list_the_names_the_code_knows() {
    let document = document().await;
    let statuses = names::<JobStatus>();
    let kinds = names::<JobKind>();
    assert_eq!(kinds, json!(["pickup", "inspection", "return"]));
    for path in ["/v1/portal/jobs", "/v1/portal/admin/jobs"] {
        let status = &parameter(&document, "get", path, "status")["schema"]["enum"];
        assert_eq!(status, &statuses, "{path}");
        assert_eq!(
            &parameter(&document, "get", path, "kind")["schema"]["enum"],
            &kinds,
            "{path}"
        );
    }
    for path in [
        "/v1/portal/webhooks/deliveries",
        "/v1/portal/admin/webhooks/deliveries",
    ] {
        assert_eq!(
            parameter(&document, "get", path, "status")["schema"]["enum"],
            names::<DeliveryStatus>(),
            "{path}"
        );
    }
    let field = |schema: &str, path: &str| field_schema(&document, schema, path)["enum"].clone();
    assert_eq!(field("JobView", "status"), statuses);
    assert_eq!(field("JobView", "kind"), kinds);
    assert_eq!(field("JobView", "history[].status"), statuses);
    assert_eq!(field("JobView", "history[].source"), names::<Source>());
    assert_eq!(field("DeliveryView", "type"), names::<WebhookEvent>());
    assert_eq!(field("DeliveryView", "status"), names::<DeliveryStatus>());
}

#[tokio::test]
async fn created_users_and_webhooks_answer_with_their_location_and_links() {
    let app = spawn_app().await;
    let document = document_of(&app).await;
    let created = |path: &str| operation(&document, "post", path)["responses"]["201"].clone();
    let user = created("/v1/portal/admin/users");
    assert!(user["headers"]["Location"].is_object(), "{user}");
    assert_eq!(user["links"]["GetUser"]["operationId"], "get_user");
    assert_eq!(user["links"]["IssueToken"]["operationId"], "issue_token");
    let hook = created("/v1/portal/webhooks");
    assert!(hook["headers"]["Location"].is_object(), "{hook}");
    assert_eq!(
        hook["links"]["DeleteWebhook"]["operationId"],
        "delete_webhook"
    );
    assert_eq!(
        hook["links"]["RotateSecret"]["operationId"],
        "rotate_secret"
    );
    for link in [&user["links"], &hook["links"]] {
        for (name, link) in link.as_object().unwrap() {
            assert_eq!(link["parameters"]["id"], "$response.body#/id", "{name}");
        }
    }

    // What the answers hold: a Location the linked operations answer on.
    let response = app
        .post_as(
            &app.admin_token,
            "/v1/portal/admin/users",
            &json!({"partner_id": Uuid::new_v4(), "email": "dispatch@partner.example", "name": "Dispatcher"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/portal/admin/users/{}", body["id"].as_str().unwrap())
    );
    assert_fits(&document, "UserView", &body);
    assert_eq!(app.json_as(&app.admin_token, &location).await, body);
    let token = app.partner_token(Uuid::new_v4());
    let response = app
        .post_as(
            &token,
            "/v1/portal/webhooks",
            &json!({"url": "https://hooks.example.com/recommerce"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/portal/webhooks/{}", body["id"].as_str().unwrap())
    );
    assert_fits(&document, "WebhookView", &body);
    let rotated = app
        .post_as(&token, &format!("{location}/rotate-secret"), &json!({}))
        .await;
    assert_eq!(rotated.status(), 200);
    let deleted = app.send_as(Method::DELETE, &token, &location, None).await;
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn the_admin_delivery_list_and_redelivery_declare_the_bodies_they_answer() {
    let app = spawn_app().await;
    let document = document_of(&app).await;
    let content = |method: &str, path: &str, status: &str| {
        operation(&document, method, path)["responses"][status]["content"]["application/json"]
            ["schema"]["$ref"]
            .clone()
    };
    let list = "/v1/portal/admin/webhooks/deliveries";
    let redeliver = "/v1/portal/admin/webhooks/deliveries/{id}/redeliver";
    assert_eq!(
        content("get", list, "200"),
        "#/components/schemas/Paged_DeliveryView"
    );
    assert_eq!(
        content("post", redeliver, "202"),
        "#/components/schemas/DeliveryView"
    );
    // The partner's own routes answer the same shapes.
    assert_eq!(
        content("get", "/v1/portal/webhooks/deliveries", "200"),
        content("get", list, "200")
    );
    assert_eq!(
        content(
            "post",
            "/v1/portal/webhooks/deliveries/{id}/redeliver",
            "202"
        ),
        content("post", redeliver, "202")
    );

    // And the real answers are those shapes.
    let partner_id = Uuid::new_v4();
    let token = app.partner_token(partner_id);
    app.webhook(&token, "http://127.0.0.1:9/recommerce").await;
    app.offered_job(partner_id, "pickup").await;
    let path = format!("{list}?partner_id={partner_id}");
    platform::testing::eventually(SETTLE, "the delivery is listed", || async {
        app.json_as(&app.admin_token, &path).await["total"] == 1
    })
    .await;
    let page = app.json_as(&app.admin_token, &path).await;
    assert_fits(&document, "Paged_DeliveryView", &page);
    let delivery = &page["items"][0];
    assert_fits(&document, "DeliveryView", delivery);
    let id = delivery["id"].as_str().unwrap();
    let response = app
        .post_as(
            &app.admin_token,
            &format!("{list}/{id}/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let redelivered: Value = response.json().await.unwrap();
    assert_fits(&document, "DeliveryView", &redelivered);
    assert_eq!(redelivered["id"], delivery["id"]);
    assert_eq!(redelivered["status"], "pending");
}
