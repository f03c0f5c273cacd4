use std::collections::BTreeSet;

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
async fn every_schema_reference_in_the_document_resolves() {
    fn references(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value.as_str()) {
                        ("$ref", Some(reference)) => found.push(reference.to_owned()),
                        _ => references(value, found),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|item| references(item, found))
            }
            _ => {}
        }
    }
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {reference}"));
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{reference} does not resolve"
        );
    }
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
