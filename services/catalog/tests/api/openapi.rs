use std::collections::BTreeSet;

use catalog::domain::{
    EARLIEST_RELEASE_YEAR, MAX_BASE_PRICE_MINOR, MAX_BRAND_CHARS, MAX_KEY_CHARS,
    MAX_MODEL_NAME_CHARS, MAX_OPTIONS, MAX_QUESTIONS, MAX_TEXT_CHARS, MAX_VARIANT_NAME_CHARS,
    MIN_OPTIONS,
};
use platform::testing::{assert_declares, assert_every_id_operation_declares_404, field_schema};
use serde_json::json;

use crate::helpers::spawn_app;

/// Every route the catalog serves, as (method, path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/v1/devices"),
    ("get", "/v1/devices/{id}"),
    ("get", "/v1/devices/variants/{id}"),
    ("get", "/v1/admin/catalog/models"),
    ("post", "/v1/admin/catalog/models"),
    ("get", "/v1/admin/catalog/models/{id}"),
    ("patch", "/v1/admin/catalog/models/{id}"),
    ("delete", "/v1/admin/catalog/models/{id}"),
    ("post", "/v1/admin/catalog/models/{id}/variants"),
    ("patch", "/v1/admin/catalog/variants/{id}"),
    ("delete", "/v1/admin/catalog/variants/{id}"),
    ("get", "/v1/admin/catalog/questionnaires/{category}"),
    ("put", "/v1/admin/catalog/questionnaires/{category}"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_nothing_else() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(documented, expected);
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = spawn_app().await;
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{category}", "phone");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&concrete))
            .bearer_auth(&app.admin_token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("route_not_found") && status < 500,
            "{method} {concrete} answered {status}: {body}"
        );
    }
}

#[tokio::test]
async fn admin_routes_declare_bearer_security() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let create = &document["paths"]["/v1/admin/catalog/models"]["post"];
    assert!(create["security"][0].get("bearer").is_some(), "{create}");
}

#[tokio::test]
async fn the_interactive_docs_page_is_served() {
    let app = spawn_app().await;
    let response = app.get("/docs").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<html") && html.contains("recommerce catalog"),
        "{html}"
    );
}

#[tokio::test]
async fn admin_routes_document_auth_failures_and_body_routes_document_bad_bodies() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            if path.starts_with("/v1/admin/") {
                for status in ["401", "403"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_sound_openapi_3_1_whose_references_and_links_resolve() {
    let app = spawn_app().await;
    platform::testing::assert_document_is_sound(&app.get_json("/openapi.json").await);
}

#[tokio::test]
async fn every_documented_response_has_a_description_as_openapi_requires() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    let mut undescribed = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let described = response.get("$ref").is_some()
                    || response["description"]
                        .as_str()
                        .is_some_and(|text| !text.trim().is_empty());
                if !described {
                    undescribed.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(undescribed.is_empty(), "no description: {undescribed:?}");
}

#[tokio::test]
async fn every_operation_declares_the_overload_and_rate_limit_answers_with_retry_after() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if path.starts_with("/health") || path == "/metrics" {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            for status in ["429", "503"] {
                let response = &operation["responses"][status];
                let declared = response["content"]["application/problem+json"].is_object()
                    && response["headers"]["Retry-After"].is_object();
                if !declared {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "not declared: {missing:?}");
}

#[tokio::test]
async fn every_operation_on_an_id_declares_its_404_with_the_code() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    assert_every_id_operation_declares_404(&document, &[]);
    assert_declares(
        &document,
        "get",
        "/v1/devices/{id}",
        404,
        &["device_not_found"],
    );
    assert_declares(
        &document,
        "get",
        "/v1/devices/variants/{id}",
        404,
        &["variant_not_found"],
    );
    assert_declares(
        &document,
        "post",
        "/v1/admin/catalog/models/{id}/variants",
        404,
        &["device_not_found"],
    );
}

#[tokio::test]
async fn every_write_that_can_conflict_declares_409_with_its_codes() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    let models = "/v1/admin/catalog/models";
    let model = "/v1/admin/catalog/models/{id}";
    let variant = "/v1/admin/catalog/variants/{id}";
    assert_declares(
        &document,
        "post",
        models,
        409,
        &["device_already_exists", "concurrent_update"],
    );
    assert_declares(
        &document,
        "patch",
        model,
        409,
        &[
            "device_retired",
            "device_already_exists",
            "concurrent_update",
        ],
    );
    assert_declares(&document, "delete", model, 409, &["concurrent_update"]);
    let variants = "/v1/admin/catalog/models/{id}/variants";
    assert_declares(
        &document,
        "post",
        variants,
        409,
        &["device_retired", "variant_already_exists"],
    );
    assert_declares(
        &document,
        "patch",
        variant,
        409,
        &["variant_already_exists"],
    );
    assert_declares(&document, "delete", variant, 409, &["device_retired"]);
    let questionnaire = "/v1/admin/catalog/questionnaires/{category}";
    assert_declares(&document, "put", questionnaire, 409, &["concurrent_update"]);
    assert_declares(&document, "post", models, 422, &["validation_failed"]);
}

#[tokio::test]
async fn the_limits_the_code_checks_are_in_the_schemas() {
    use chrono::Datelike;

    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    let field = |schema: &str, path: &str| field_schema(&document, schema, path).clone();
    assert_eq!(
        field("NewModelRequest", "brand")["maxLength"],
        MAX_BRAND_CHARS
    );
    assert_eq!(
        field("NewModelRequest", "name")["maxLength"],
        MAX_MODEL_NAME_CHARS
    );
    assert_eq!(
        field("ModelPatchRequest", "brand")["maxLength"],
        MAX_BRAND_CHARS
    );
    assert_eq!(
        field("NewModelRequest", "variants[].name")["maxLength"],
        MAX_VARIANT_NAME_CHARS
    );
    assert_eq!(
        field("NewModelRequest", "category")["enum"],
        json!(["phone", "laptop", "tablet", "watch"])
    );
    assert_eq!(
        field("ModelPatchRequest", "category")["enum"],
        json!(["phone", "laptop", "tablet", "watch"])
    );
    let year = field("NewModelRequest", "release_year");
    assert_eq!(year["minimum"], EARLIEST_RELEASE_YEAR);
    assert_eq!(year["maximum"], chrono::Utc::now().year() + 1);
    let price = field("NewVariantRequest", "base_price.amount_minor");
    assert_eq!(
        (price["minimum"].clone(), price["maximum"].clone()),
        (json!(1), json!(MAX_BASE_PRICE_MINOR))
    );
    assert_eq!(
        field("NewVariantRequest", "base_price.currency")["pattern"],
        "^[A-Z]{3}$"
    );
    let questions = field("QuestionnaireRequest", "questions");
    assert_eq!(
        (questions["minItems"].clone(), questions["maxItems"].clone()),
        (json!(1), json!(MAX_QUESTIONS))
    );
    let options = field("QuestionnaireRequest", "questions[].options");
    assert_eq!(
        (options["minItems"].clone(), options["maxItems"].clone()),
        (json!(MIN_OPTIONS), json!(MAX_OPTIONS))
    );
    assert_eq!(
        field("QuestionnaireRequest", "questions[].text")["maxLength"],
        MAX_TEXT_CHARS
    );
    let key = field("QuestionnaireRequest", "questions[].key")["pattern"].clone();
    assert!(
        key.as_str()
            .unwrap()
            .contains(&format!("{{0,{}}}", MAX_KEY_CHARS - 1)),
        "{key}"
    );
    let query = &document["paths"]["/v1/devices"]["get"]["parameters"];
    let q = query
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "q")
        .unwrap();
    assert_eq!(q["schema"]["maxLength"], catalog::routes::MAX_SEARCH_CHARS);
}

#[tokio::test]
async fn browse_routes_declare_their_etag_if_none_match_and_304() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    for path in [
        "/v1/devices",
        "/v1/devices/{id}",
        "/v1/devices/variants/{id}",
    ] {
        let operation = &document["paths"][path]["get"];
        let conditional = operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "If-None-Match" && p["in"] == "header");
        assert!(conditional, "{path} lacks If-None-Match");
        assert!(
            operation["responses"]["200"]["headers"]["ETag"].is_object(),
            "{path}"
        );
        assert!(
            operation["responses"]["304"]["headers"]["ETag"].is_object(),
            "{path}"
        );
    }
    let created = &document["paths"]["/v1/admin/catalog/models"]["post"]["responses"]["201"];
    assert!(created["headers"]["Location"].is_object(), "{created}");
    assert_eq!(
        created["links"]["GetModel"]["operationId"], "get_model",
        "{created}"
    );
}
