//! Operations: readiness, and the OpenAPI document of every route.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestOptions, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_service_is_ready_with_its_database_and_redis() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn the_openapi_document_lists_every_quote_and_pricing_route() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let routes: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{method} {path}"))
        })
        .filter(|route| route.contains("/v1/"))
        .collect();
    let expected: BTreeSet<String> = [
        "post /v1/quotes",
        "get /v1/quotes/{id}",
        "post /v1/quotes/{id}/lock",
        "post /v1/quotes/{id}/requote",
        "post /v1/admin/pricing/adjustments",
        "get /v1/admin/pricing/adjustments",
        "get /v1/admin/pricing/adjustments/{id}",
        "delete /v1/admin/pricing/adjustments/{id}",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(routes, expected);
}

#[tokio::test]
async fn the_service_stops_within_its_grace_period_and_then_refuses_connections() {
    let broker = platform::testing::TestBroker::start();
    broker.create_topics(&events::topics::ALL, 1).await;
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;
    let address = app.address.clone();
    platform::testing::assert_stops_within_grace(&address, app.stop()).await;
}
