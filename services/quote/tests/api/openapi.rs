//! The document is the contract: what each route can answer, with its codes, and the limits
//! the code checks, so that a client built from it is not refused a request it allows.

use platform::testing::{
    assert_declares, assert_document_is_sound, assert_every_id_operation_declares_404, field_schema,
};
use platform::values::PINCODE_PATTERN;
use quote_service::domain::{
    MAX_ADJUSTMENT_BASIS_POINTS, MAX_ANSWERS, MAX_BRAND_CHARS, MAX_LABEL_CHARS,
};
use quote_service::routes::dto::MAX_SHOPPER_ID_CHARS;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

async fn document() -> Value {
    let app = spawn_app().await;
    app.client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_document_is_sound_openapi_3_1_whose_references_and_links_resolve() {
    assert_document_is_sound(&document().await);
}

#[tokio::test]
async fn every_operation_on_an_id_declares_its_404_with_the_code() {
    let document = document().await;
    assert_every_id_operation_declares_404(&document, &[]);
    assert_declares(
        &document,
        "delete",
        "/v1/admin/pricing/adjustments/{id}",
        404,
        &["adjustment_not_found"],
    );
    assert_declares(&document, "post", "/v1/quotes", 404, &["variant_not_found"]);
}

#[tokio::test]
async fn the_lock_declares_every_answer_the_order_service_branches_on() {
    let document = document().await;
    let lock = "/v1/quotes/{id}/lock";
    assert_declares(&document, "post", lock, 404, &["quote_not_found"]);
    assert_declares(
        &document,
        "post",
        lock,
        409,
        &["quote_already_used", "concurrent_update"],
    );
    assert_declares(&document, "post", lock, 410, &["quote_expired"]);
    assert_declares(&document, "post", "/v1/quotes", 409, &["device_retired"]);
    assert_declares(
        &document,
        "post",
        "/v1/quotes",
        503,
        &["catalog_unavailable", "overloaded"],
    );
}

#[tokio::test]
async fn limits_and_scopes_are_in_the_schemas() {
    let document = document().await;
    let adjustment = |path: &str| field_schema(&document, "NewAdjustmentRequest", path).clone();
    assert_eq!(adjustment("scope")["enum"], json!(["category", "brand"]));
    assert_eq!(adjustment("value")["maxLength"], MAX_BRAND_CHARS);
    assert_eq!(adjustment("label")["maxLength"], MAX_LABEL_CHARS);
    assert_eq!(
        adjustment("percent_basis_points")["maximum"],
        MAX_ADJUSTMENT_BASIS_POINTS
    );
    assert_eq!(
        adjustment("percent_basis_points")["minimum"],
        -MAX_ADJUSTMENT_BASIS_POINTS
    );
    let quote = |path: &str| field_schema(&document, "NewQuoteRequest", path).clone();
    assert_eq!(quote("pincode")["pattern"], PINCODE_PATTERN);
    assert_eq!(quote("answers")["maxItems"], MAX_ANSWERS);
    assert_eq!(
        field_schema(&document, "RequoteRequest", "answers")["maxItems"],
        MAX_ANSWERS
    );
    assert_eq!(
        field_schema(&document, "LockRequest", "shopper_id")["maxLength"],
        MAX_SHOPPER_ID_CHARS
    );
}

#[tokio::test]
async fn what_is_created_links_to_where_it_is_read() {
    let document = document().await;
    for (path, link, operation) in [
        ("/v1/quotes", "GetQuote", "get_quote"),
        (
            "/v1/admin/pricing/adjustments",
            "GetAdjustment",
            "get_adjustment",
        ),
    ] {
        let created = &document["paths"][path]["post"]["responses"]["201"];
        assert_eq!(
            created["links"][link]["operationId"], operation,
            "{path}: {created}"
        );
        assert!(
            created["headers"]["Location"].is_object(),
            "{path}: {created}"
        );
    }
}
