//! The document is the contract: what each route can answer, with its codes, and the limits
//! the code checks, so that a client built from it is not refused a request it allows.

use fulfilment::routes::partners::{MAX_DAILY_CAPACITY, MAX_NAME_CHARS, MAX_PINCODES};
use platform::testing::{
    assert_declares, assert_document_is_sound, assert_every_id_operation_declares_404, field_schema,
};
use serde_json::{Value, json};

use crate::helpers::spawn_app;

async fn document() -> Value {
    let app = spawn_app().await;
    app.get_as(&app.admin_token, "/openapi.json")
        .await
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
        "get",
        "/v1/admin/partners/{id}",
        404,
        &["partner_not_found"],
    );
    assert_declares(
        &document,
        "get",
        "/v1/admin/jobs/{id}/history",
        404,
        &["job_not_found"],
    );
}

#[tokio::test]
async fn job_actions_declare_illegal_transitions_and_an_unavailable_coordinator() {
    let document = document().await;
    for action in ["assign", "requote"] {
        let path = format!("/v1/admin/jobs/{{id}}/{action}");
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
    }
    assert_declares(
        &document,
        "patch",
        "/v1/admin/partners/{id}",
        409,
        &["concurrent_update"],
    );
}

#[tokio::test]
async fn partner_limits_and_kinds_are_in_the_schemas() {
    let document = document().await;
    let field = |path: &str| field_schema(&document, "NewPartnerRequest", path).clone();
    assert_eq!(field("kind")["enum"], json!(["logistics", "repair"]));
    assert_eq!(field("name")["maxLength"], MAX_NAME_CHARS);
    assert_eq!(field("pincodes")["maxItems"], MAX_PINCODES);
    assert_eq!(field("daily_capacity")["maximum"], MAX_DAILY_CAPACITY);
    let created = &document["paths"]["/v1/admin/partners"]["post"]["responses"]["201"];
    assert_eq!(
        created["links"]["GetPartner"]["operationId"], "get_partner",
        "{created}"
    );
    let jobs = document["paths"]["/v1/admin/jobs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    let status = jobs.iter().find(|p| p["name"] == "status").unwrap();
    assert!(
        status["schema"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("inspection_reported")),
        "{status}"
    );
}
