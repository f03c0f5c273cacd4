//! The document is the contract: what each route can answer, with its codes, and the limits
//! the code checks, so that a client built from it is not refused a request it allows.

use order::domain::{
    ACCOUNT_NUMBER_DIGITS, IFSC_CHARS, MAX_ADDRESS_CHARS, MAX_DAYS_AHEAD, MAX_DETAIL_CHARS,
    OrderStatus, PayoutMethod, SlotWindow,
};
use order::routes::{MAX_IDEMPOTENCY_KEY_BYTES, MAX_REASON_CHARS, MAX_STUCK_FOR_MINUTES};
use platform::testing::{
    assert_declares, assert_document_is_sound, assert_every_id_operation_declares_404,
    assert_paging_declared, field_schema, parameter,
};
use serde_json::{Value, json};
use strum::IntoEnumIterator;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, order_body, spawn_app};

async fn document_of(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn document() -> Value {
    document_of(&spawn_app().await).await
}

/// The names of every value of `E`, as the code spells them.
fn names<E: IntoEnumIterator + Into<&'static str>>() -> Value {
    json!(E::iter().map(Into::into).collect::<Vec<&'static str>>())
}

/// The parameter `name` of `method path`.
#[tokio::test]
async fn the_document_is_sound_openapi_3_1_whose_references_and_links_resolve() {
    assert_document_is_sound(&document().await);
}

#[tokio::test]
async fn every_operation_on_an_id_declares_its_404_with_the_code() {
    let document = document().await;
    assert_every_id_operation_declares_404(&document, &[]);
    for (method, path) in [
        ("get", "/v1/orders/{id}"),
        ("get", "/v1/orders/{id}/timeline"),
        ("post", "/v1/orders/{id}/cancel"),
        ("post", "/v1/orders/{id}/revised-price/accept"),
        ("post", "/v1/orders/{id}/revised-price/refuse"),
        ("get", "/v1/admin/orders/{id}"),
        ("post", "/v1/admin/orders/{id}/cancel"),
    ] {
        assert_declares(&document, method, path, 404, &["order_not_found"]);
    }
}

#[tokio::test]
async fn decisions_on_an_order_declare_illegal_transitions_and_an_unavailable_coordinator() {
    let document = document().await;
    for path in [
        "/v1/orders/{id}/cancel",
        "/v1/orders/{id}/revised-price/accept",
        "/v1/orders/{id}/revised-price/refuse",
        "/v1/admin/orders/{id}/cancel",
    ] {
        assert_declares(
            &document,
            "post",
            path,
            409,
            &["illegal_transition", "concurrent_update"],
        );
        assert_declares(
            &document,
            "post",
            path,
            503,
            &["coordinator_unavailable", "overloaded"],
        );
    }
    assert_declares(
        &document,
        "post",
        "/v1/admin/orders/{id}/cancel",
        422,
        &["validation_failed"],
    );
    assert_declares(
        &document,
        "get",
        "/v1/admin/orders",
        400,
        &["invalid_query_parameter"],
    );
}

#[tokio::test]
async fn placing_an_order_declares_its_key_problems_location_and_links() {
    let document = document().await;
    let place = |status: u16, codes: &[&str]| {
        assert_declares(&document, "post", "/v1/orders", status, codes);
    };
    place(
        400,
        &[
            "idempotency_key_missing",
            "idempotency_key_invalid",
            "malformed_json",
        ],
    );
    place(409, &["concurrent_update"]);
    place(
        422,
        &[
            "idempotency_key_reused",
            "validation_failed",
            "invalid_body",
        ],
    );
    place(413, &["payload_too_large"]);

    let accepted = &document["paths"]["/v1/orders"]["post"]["responses"]["202"];
    assert!(accepted["headers"]["Location"].is_object(), "{accepted}");
    assert!(
        accepted["headers"]["Idempotent-Replayed"].is_object(),
        "{accepted}"
    );
    assert_eq!(
        accepted["links"]["GetOrder"]["operationId"], "get_order",
        "{accepted}"
    );
    assert_eq!(
        accepted["links"]["GetOrder"]["parameters"]["id"], "$response.body#/id",
        "{accepted}"
    );
    assert_eq!(
        accepted["links"]["GetTimeline"]["operationId"], "get_timeline",
        "{accepted}"
    );
}

/// The header's pattern is the rule the code enforces: every visible ASCII character, up
/// to [`MAX_IDEMPOTENCY_KEY_BYTES`] of them, and nothing else.
#[tokio::test]
async fn the_idempotency_key_is_a_required_header_whose_pattern_the_code_enforces() {
    let app = spawn_app().await;
    let document = document_of(&app).await;
    let key = parameter(&document, "post", "/v1/orders", "Idempotency-Key");
    assert_eq!(key["in"], "header", "{key}");
    assert_eq!(key["required"], true, "{key}");
    assert_eq!(
        key["schema"]["pattern"],
        format!("^[!-~]{{1,{MAX_IDEMPOTENCY_KEY_BYTES}}}$"),
        "{key}"
    );

    let every_visible: String = ('!'..='~').collect();
    let longest = "~".repeat(MAX_IDEMPOTENCY_KEY_BYTES);
    for key in [every_visible.as_str(), longest.as_str()] {
        let response = app.place_order(key, &order_body(Uuid::new_v4())).await;
        assert_eq!(response.status(), 202, "{key}");
    }
    let too_long = "~".repeat(MAX_IDEMPOTENCY_KEY_BYTES + 1);
    for key in [too_long.as_str(), "with space"] {
        let response = app.place_order(key, &order_body(Uuid::new_v4())).await;
        assert_problem(response, 400, "idempotency_key_invalid").await;
    }
}

#[tokio::test]
async fn the_limits_and_names_the_code_checks_are_in_the_schemas() {
    let document = document().await;
    let field = |path: &str| field_schema(&document, "PlaceOrderRequest", path).clone();

    assert_eq!(field("pickup.slot.window")["enum"], names::<SlotWindow>());
    assert_eq!(
        field("pickup.slot.window")["enum"],
        json!(["morning", "afternoon", "evening"])
    );
    assert_eq!(field("payout.method")["enum"], names::<PayoutMethod>());
    assert_eq!(
        field("payout.method")["enum"],
        json!(["upi", "bank_transfer"])
    );

    let address = field("pickup.address");
    assert_eq!(address["maxLength"], MAX_ADDRESS_CHARS, "{address}");
    assert_eq!(address["minLength"], 1, "{address}");
    assert_eq!(field("pickup.pincode")["pattern"], "^[1-9][0-9]{5}$");
    let slot = field("pickup.slot");
    assert!(
        slot["description"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("({MAX_DAYS_AHEAD}) days ahead")),
        "{slot}"
    );

    for detail in ["vpa", "account_name", "account_number", "ifsc"] {
        let schema = field(&format!("payout.details.{detail}"));
        assert_eq!(schema["maxLength"], MAX_DETAIL_CHARS, "{detail}: {schema}");
    }
    assert_eq!(
        field("payout.details")["additionalProperties"],
        false,
        "a field no method names is refused"
    );
    assert_eq!(
        field("payout.details.ifsc")["pattern"],
        format!("^[A-Za-z0-9]{{{IFSC_CHARS}}}$")
    );
    assert_eq!(
        field("payout.details.account_number")["pattern"],
        format!(
            "^[0-9]{{{},{}}}$",
            ACCOUNT_NUMBER_DIGITS.start(),
            ACCOUNT_NUMBER_DIGITS.end()
        )
    );

    let reason = field_schema(&document, "AdminCancelRequest", "reason");
    assert_eq!(reason["maxLength"], MAX_REASON_CHARS, "{reason}");
    assert_eq!(reason["minLength"], 1, "{reason}");

    for schema in ["OrderView", "OrderAccepted"] {
        assert_eq!(
            field_schema(&document, schema, "status")["enum"],
            names::<OrderStatus>(),
            "{schema}"
        );
    }
    assert_eq!(
        field_schema(&document, "OrderView", "payout.method")["enum"],
        names::<PayoutMethod>()
    );
}

#[tokio::test]
async fn query_parameters_declare_their_names_and_ranges() {
    let document = document().await;
    for path in ["/v1/orders", "/v1/admin/orders"] {
        let status = parameter(&document, "get", path, "status");
        assert_eq!(status["schema"]["enum"], names::<OrderStatus>(), "{path}");
        assert_eq!(status["required"], false, "{path}");
        assert_paging_declared(&document, path);
    }
    let search = "/v1/admin/orders";
    let stuck = &parameter(&document, "get", search, "stuck_for_minutes")["schema"];
    assert_eq!(
        (stuck["minimum"].clone(), stuck["maximum"].clone()),
        (json!(1), json!(MAX_STUCK_FOR_MINUTES)),
        "{stuck}"
    );
    assert_eq!(
        parameter(&document, "get", search, "pincode")["schema"]["pattern"],
        "^[1-9][0-9]{5}$"
    );
}
