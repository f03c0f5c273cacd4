//! Every class of bad input gets a 4xx problem+json with a stable code, never a 5xx.

use std::collections::BTreeSet;

use platform::list_probe::{EXTREME_PAGING, assert_each_query_refused, paged_routes};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// The query values no list route may take, for every list route (the OpenAPI document's
/// paged routes, and any list it should show paged): each is a 400 problem, never a 5xx or
/// a dropped connection (issue 18, item 4: no input can crash a worker).
#[tokio::test]
async fn every_list_route_refuses_extreme_paging_with_a_400_problem() {
    let app = spawn_app().await;
    let partner = app.partner_token(Uuid::new_v4());
    let dead_letters = vec!["include_replayed=maybe".to_owned()];
    let routes: Vec<(&str, &str, Vec<String>)> = vec![
        ("/v1/portal/jobs", &partner, Vec::new()),
        ("/v1/portal/webhooks", &partner, Vec::new()),
        ("/v1/portal/webhooks/deliveries", &partner, Vec::new()),
        ("/v1/portal/admin/users", &app.admin_token, Vec::new()),
        (
            "/v1/portal/admin/webhooks/deliveries",
            &app.admin_token,
            Vec::new(),
        ),
        ("/v1/portal/admin/jobs", &app.admin_token, Vec::new()),
        (
            "/v1/portal/admin/dead-letters",
            &app.admin_token,
            dead_letters,
        ),
        (
            "/v1/portal/admin/outbox/parked",
            &app.admin_token,
            Vec::new(),
        ),
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
