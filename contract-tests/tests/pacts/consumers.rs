//! Each consumer's real client against a Pact mock server. Every interaction is called and
//! what the client makes of the answer is asserted: the pact records only what the client
//! really sends and reads.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pact_consumer::prelude::*;
use pact_models::generators::Generators;
use pact_models::generators::{Generator, GeneratorCategory};
use pact_models::path_exp::DocPath;
use platform::auth::ServiceCredentials;
use serde_json::json;
use uuid::Uuid;

use crate::support::{
    ACCEPTED_AT, BEARER, EXAMPLE_TOKEN, PROBLEM_JSON, SHOPPER, TIMESTAMP, UUID,
    assert_pact_is_committed, scratch_dir,
};

/// The examples' ids. Quotes made by a provider state are named by the state instead.
const ISSUED_QUOTE: &str = "7c1e2f4a-0b1d-4c5e-8f90-1a2b3c4d5e01";
const USED_QUOTE: &str = "7c1e2f4a-0b1d-4c5e-8f90-1a2b3c4d5e02";
const EXPIRED_QUOTE: &str = "7c1e2f4a-0b1d-4c5e-8f90-1a2b3c4d5e03";
const UNKNOWN_QUOTE: &str = "7c1e2f4a-0b1d-4c5e-8f90-1a2b3c4d5e04";
const LOCKED_QUOTE: &str = "7c1e2f4a-0b1d-4c5e-8f90-1a2b3c4d5e05";
const WRONGLY_ANSWERED_QUOTE: &str = "7c1e2f4a-0b1d-4c5e-8f90-1a2b3c4d5e06";
const ORDER: &str = "2f0c9a3e-5d1b-4e7a-b6c8-9d0e1f2a3b40";
const VARIANT: &str = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c70";
const LAPTOP_VARIANT: &str = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c72";
const MODEL: &str = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c71";
const QUESTION: &str = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a80";
const OPTION: &str = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a81";

const JSON: &str = "application/json";

fn credentials() -> ServiceCredentials {
    ServiceCredentials::Static(secrecy::SecretString::from(EXAMPLE_TOKEN))
}

fn example_bearer() -> String {
    format!("Bearer {EXAMPLE_TOKEN}")
}

fn uuid(value: &str) -> Uuid {
    Uuid::parse_str(value).expect("an example UUID")
}

/// A body value the provider state supplies as `${expression}`, `example` in the pact.
fn from_state(generators: &mut Generators, path: &'static str, expression: &str) {
    generators.add_generator_with_subcategory(
        &GeneratorCategory::BODY,
        DocPath::new_unwrap(path),
        Generator::ProviderStateGenerator(expression.to_owned(), None),
    );
}

#[test]
fn order_locks_quotes_and_tells_a_lock_from_each_refusal() {
    let accepted_at: DateTime<Utc> = ACCEPTED_AT.parse().expect("an example time");
    let lock_request = || {
        json_pattern!({
            "order_id": term!(UUID, ORDER),
            "shopper_id": like!(SHOPPER),
            "accepted_at": term!(TIMESTAMP, ACCEPTED_AT),
        })
    };
    let refusal = |code: &str| json_pattern!({ "code": code });
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("order", "quote");
    pact.with_output_dir(&scratch)
        .interaction("a lock of an issued quote", "", |mut i| {
            i.given("a quote issued to shopper-1, valid when the order was accepted");
            i.request
                .post()
                .path_from_provider_state(
                    "/v1/quotes/${quoteId}/lock",
                    format!("/v1/quotes/{ISSUED_QUOTE}/lock"),
                )
                .header("Authorization", term!(BEARER, example_bearer()))
                .content_type(JSON)
                .json_body(lock_request());
            i.response.ok().content_type(JSON).json_body(json_pattern!({
                "variant_id": term!(UUID, VARIANT),
                "price": { "amount_minor": like!(4_500_000), "currency": term!("^INR$", "INR") },
            }));
            i
        })
        .interaction("a lock of a quote that backs another order", "", |mut i| {
            i.given("a quote issued to shopper-1 and locked to another order");
            i.request
                .post()
                .path_from_provider_state(
                    "/v1/quotes/${quoteId}/lock",
                    format!("/v1/quotes/{USED_QUOTE}/lock"),
                )
                .header("Authorization", term!(BEARER, example_bearer()))
                .content_type(JSON)
                .json_body(lock_request());
            i.response
                .status(409)
                .content_type(PROBLEM_JSON)
                .json_body(refusal("quote_already_used"));
            i
        })
        .interaction(
            "a lock of a quote that expired before the order was accepted",
            "",
            |mut i| {
                i.given("a quote issued to shopper-1 that expired before the order was accepted");
                i.request
                    .post()
                    .path_from_provider_state(
                        "/v1/quotes/${quoteId}/lock",
                        format!("/v1/quotes/{EXPIRED_QUOTE}/lock"),
                    )
                    .header("Authorization", term!(BEARER, example_bearer()))
                    .content_type(JSON)
                    .json_body(lock_request());
                i.response
                    .status(410)
                    .content_type(PROBLEM_JSON)
                    .json_body(refusal("quote_expired"));
                i
            },
        )
        .interaction("a lock of a quote that does not exist", "", |mut i| {
            i.request
                .post()
                .path(format!("/v1/quotes/{UNKNOWN_QUOTE}/lock"))
                .header("Authorization", term!(BEARER, example_bearer()))
                .content_type(JSON)
                .json_body(lock_request());
            i.response
                .status(404)
                .content_type(PROBLEM_JSON)
                .json_body(refusal("quote_not_found"));
            i
        });
    let server = pact.start_mock_server(None, None);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let client = order::quote_client::QuoteClient::new(
            server.url().as_str(),
            Duration::from_secs(5),
            credentials(),
        )
        .expect("the client builds");
        let order = uuid(ORDER);
        let locked = client
            .lock(uuid(ISSUED_QUOTE), order, SHOPPER, accepted_at)
            .await
            .expect("an answer");
        assert!(
            matches!(
                locked,
                order::quote_client::LockOutcome::Locked { variant_id, ref price }
                    if variant_id == uuid(VARIANT) && price.amount_minor == 4_500_000
            ),
            "{locked:?}"
        );
        for (quote, code) in [
            (USED_QUOTE, "quote_already_used"),
            (EXPIRED_QUOTE, "quote_expired"),
            (UNKNOWN_QUOTE, "quote_not_found"),
        ] {
            let refused = client
                .lock(uuid(quote), order, SHOPPER, accepted_at)
                .await
                .expect("an answer");
            assert_eq!(
                refused,
                order::quote_client::LockOutcome::Refused {
                    code: code.to_owned()
                }
            );
        }
    });
    drop(server);
    assert_pact_is_committed(&scratch, "order", "quote");
}

#[test]
fn fulfilment_requotes_an_inspected_trade_in_and_stops_on_a_refusal() {
    let answers_from_state = |i: &mut pact_consumer::builders::InteractionBuilder| {
        let generators = i.request.generators();
        from_state(generators, "$.answers[0].question_id", "${questionId}");
        from_state(generators, "$.answers[0].option_id", "${optionId}");
    };
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("fulfilment", "quote");
    pact.with_output_dir(&scratch)
        .interaction("a re-quote of a locked quote with an answer to every question", "", |mut i| {
            i.given("a locked quote of a device whose questionnaire has one question");
            i.request
                .post()
                .path_from_provider_state("/v1/quotes/${quoteId}/requote", format!("/v1/quotes/{LOCKED_QUOTE}/requote"))
                .header("Authorization", term!(BEARER, example_bearer()))
                .content_type(JSON)
                .json_body(json_pattern!({
                    "answers": [{ "question_id": term!(UUID, QUESTION), "option_id": term!(UUID, OPTION) }],
                }));
            answers_from_state(&mut i);
            i.response.ok().content_type(JSON).json_body(json_pattern!({
                "revised_price": { "amount_minor": like!(4_000_000), "currency": like!("INR") },
            }));
            i
        })
        .interaction("a re-quote with answers to no question of the device", "", |mut i| {
            i.given("a locked quote of a device whose questionnaire has one question");
            i.request
                .post()
                .path_from_provider_state("/v1/quotes/${quoteId}/requote", format!("/v1/quotes/{WRONGLY_ANSWERED_QUOTE}/requote"))
                .header("Authorization", term!(BEARER, example_bearer()))
                .content_type(JSON)
                .json_body(json!({
                    "answers": [{ "question_id": UNKNOWN_QUOTE, "option_id": UNKNOWN_QUOTE }],
                }));
            i.response
                .status(422)
                .content_type(PROBLEM_JSON)
                .json_body(json_pattern!({ "code": "validation_failed" }));
            i
        })
        .interaction("a re-quote of a quote that does not exist", "", |mut i| {
            i.request
                .post()
                .path(format!("/v1/quotes/{UNKNOWN_QUOTE}/requote"))
                .header("Authorization", term!(BEARER, example_bearer()))
                .content_type(JSON)
                .json_body(json!({ "answers": [{ "question_id": QUESTION, "option_id": OPTION }] }));
            i.response
                .status(404)
                .content_type(PROBLEM_JSON)
                .json_body(json_pattern!({ "code": "quote_not_found" }));
            i
        });
    let server = pact.start_mock_server(None, None);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let client = fulfilment::quote_client::QuoteClient::new(
            server.url().as_str(),
            Duration::from_secs(5),
            credentials(),
        )
        .expect("the client builds");
        let answers = json!([{ "question_id": QUESTION, "option_id": OPTION }]);
        let revised = client
            .requote(uuid(LOCKED_QUOTE), &answers)
            .await
            .expect("a revised price");
        assert_eq!(revised.amount_minor, 4_000_000);
        assert_eq!(revised.currency, "INR");
        let wrong = json!([{ "question_id": UNKNOWN_QUOTE, "option_id": UNKNOWN_QUOTE }]);
        let refused = client.requote(uuid(WRONGLY_ANSWERED_QUOTE), &wrong).await;
        assert!(
            matches!(
                refused,
                Err(fulfilment::quote_client::RequoteError::Refused(_))
            ),
            "{refused:?}"
        );
        let unknown = client.requote(uuid(UNKNOWN_QUOTE), &answers).await;
        assert!(
            matches!(
                unknown,
                Err(fulfilment::quote_client::RequoteError::Refused(_))
            ),
            "{unknown:?}"
        );
    });
    drop(server);
    assert_pact_is_committed(&scratch, "fulfilment", "quote");
}

/// Catalog's `VariantDevice` as quote reads it: a model of `category` whose questions'
/// options all take off a `deduction` of one kind.
fn variant_device(category: &str, deduction: JsonPattern) -> JsonPattern {
    json_pattern!({
        "model": {
            "id": term!(UUID, MODEL),
            "brand": like!("Acme"),
            "name": like!("Phone 1"),
            "category": category,
            "status": term!("^(active|retired)$", "active"),
            "version": like!(1),
            "variants": each_like!({
                "id": term!(UUID, VARIANT),
                "name": like!("128 GB"),
                "base_price": { "amount_minor": like!(5_000_000), "currency": like!("INR") },
            }),
        },
        "questionnaire": {
            "questions": each_like!({
                "id": term!(UUID, QUESTION),
                "key": like!("screen"),
                "text": like!("Screen condition?"),
                "options": each_like!({
                    "id": term!(UUID, OPTION),
                    "key": like!("flawless"),
                    "label": like!("flawless"),
                    "deduction": deduction,
                }),
            }),
        },
    })
}

#[test]
fn quote_reads_a_variant_it_has_not_seen_from_the_catalog() {
    let scratch = scratch_dir();
    let mut pact = PactBuilder::new_v4("quote", "catalog");
    pact.with_output_dir(&scratch)
        .interaction("a read of a variant of an active phone", "", |mut i| {
            i.given("an active phone with one variant, its questionnaire taking off percentages");
            i.request.get().path_from_provider_state(
                "/v1/devices/variants/${variantId}",
                format!("/v1/devices/variants/{VARIANT}"),
            );
            i.response.ok().content_type(JSON).json_body(variant_device(
                "phone",
                json_pattern!({ "kind": "percentage", "basis_points": like!(1000) }),
            ));
            i
        })
        .interaction("a read of a variant of an active laptop", "", |mut i| {
            i.given(
                "an active laptop with one variant, its questionnaire taking off fixed amounts",
            );
            i.request.get().path_from_provider_state(
                "/v1/devices/variants/${variantId}",
                format!("/v1/devices/variants/{LAPTOP_VARIANT}"),
            );
            i.response.ok().content_type(JSON).json_body(variant_device(
                "laptop",
                json_pattern!({ "kind": "absolute", "amount_minor": like!(500_000) }),
            ));
            i
        })
        .interaction(
            "a read of a variant the catalog does not know",
            "",
            |mut i| {
                i.request
                    .get()
                    .path(format!("/v1/devices/variants/{UNKNOWN_QUOTE}"));
                i.response.status(404).content_type(PROBLEM_JSON);
                i
            },
        );
    let server = pact.start_mock_server(None, None);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let client = quote_service::catalog_client::CatalogClient::new(
            &quote_service::configuration::QuoteSettings {
                catalog_url: server.url().to_string(),
                catalog_retries: 0,
                ..Default::default()
            },
        )
        .expect("the client builds");
        let (model, questionnaire) = client
            .variant_device(uuid(VARIANT))
            .await
            .expect("an answer")
            .expect("the variant is known");
        assert_eq!(model.id, uuid(MODEL));
        assert!(!model.retired);
        assert_eq!(model.variants[0].id, uuid(VARIANT));
        assert_eq!(questionnaire.questions[0].options[0].id, uuid(OPTION));
        let (laptop, _) = client
            .variant_device(uuid(LAPTOP_VARIANT))
            .await
            .expect("an answer")
            .expect("the variant is known");
        assert_eq!(laptop.variants[0].id, uuid(VARIANT));
        let unknown = client
            .variant_device(uuid(UNKNOWN_QUOTE))
            .await
            .expect("an answer");
        assert!(unknown.is_none());
    });
    drop(server);
    assert_pact_is_committed(&scratch, "quote", "catalog");
}
