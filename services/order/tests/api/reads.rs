use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{assert_problem, order_body, spawn_app};

#[tokio::test]
async fn a_shopper_lists_only_their_own_orders_and_anothers_order_is_not_found() {
    let app = spawn_app().await;
    let other = app.token_for("shopper-2", Role::Shopper);
    let mine = app.accepted_order().await;
    let response = app
        .place_order_as(&other, "theirs", &order_body(Uuid::new_v4()))
        .await;
    let theirs: Value = response.json().await.unwrap();
    let theirs = theirs["id"].as_str().unwrap().to_owned();

    let list: Value = app
        .get_as(&app.shopper_token, "/v1/orders")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], mine.to_string());

    for path in [
        format!("/v1/orders/{theirs}"),
        format!("/v1/orders/{theirs}/timeline"),
    ] {
        let response = app.get_as(&app.shopper_token, &path).await;
        assert_problem(response, 404, "order_not_found").await;
    }
    let cancel = app
        .post_as(&app.shopper_token, &format!("/v1/orders/{theirs}/cancel"))
        .await;
    assert_problem(cancel, 404, "order_not_found").await;
    let still: Value = app.admin_json(&format!("/v1/admin/orders/{theirs}")).await;
    assert_eq!(still["status"], "received");
}

#[tokio::test]
async fn admins_search_by_status_pincode_and_date_and_find_stuck_orders() {
    let app = spawn_app().await;
    let kept = app.accepted_order().await;
    let mut elsewhere = order_body(Uuid::new_v4());
    elsewhere["pickup"]["pincode"] = json!("110001");
    let response = app.place_order("delhi", &elsewhere).await;
    assert_eq!(response.status(), 202);
    let cancelled = app.accepted_order().await;
    let response = app
        .post_as(
            &app.shopper_token,
            &format!("/v1/orders/{cancelled}/cancel"),
        )
        .await;
    assert_eq!(response.status(), 200);

    let total = |query: &'static str| {
        let app = &app;
        async move { app.admin_json(&format!("/v1/admin/orders?{query}")).await["total"].clone() }
    };
    assert_eq!(total("").await, 3);
    assert_eq!(total("status=received").await, 2);
    assert_eq!(total("status=cancelled").await, 1);
    assert_eq!(total("pincode=110001").await, 1);
    assert_eq!(total("pincode=560001&status=received").await, 1);
    assert_eq!(total("created_from=2000-01-01T00:00:00Z").await, 3);
    assert_eq!(total("created_to=2000-01-01T00:00:00Z").await, 0);
    // Nothing has been in its state for a minute yet.
    assert_eq!(total("stuck_for_minutes=1").await, 0);

    // An order untouched for two hours is stuck; a cancelled one never is.
    let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    for id in [kept, cancelled] {
        use order::store::entities::orders;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        orders::Entity::update_many()
            .col_expr(orders::Column::StatusChangedAt, Expr::value(two_hours_ago))
            .filter(orders::Column::Id.eq(id))
            .exec(&app.db)
            .await
            .unwrap();
    }
    let stuck = app
        .admin_json("/v1/admin/orders?stuck_for_minutes=60")
        .await;
    assert_eq!(stuck["total"], 1);
    assert_eq!(stuck["items"][0]["id"], kept.to_string());
}

#[tokio::test]
async fn a_cancelled_order_shows_both_steps_in_its_timeline_in_order() {
    let app = spawn_app().await;
    let order_id = app.accepted_order().await;
    let cancelled: Value = app
        .post_as(&app.shopper_token, &format!("/v1/orders/{order_id}/cancel"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["version"], 2);

    let timeline: Value = app
        .get_as(
            &app.shopper_token,
            &format!("/v1/orders/{order_id}/timeline"),
        )
        .await
        .json()
        .await
        .unwrap();
    let steps: Vec<(i64, &str, &str)> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["seq"].as_i64().unwrap(),
                item["status"].as_str().unwrap(),
                item["event"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (1, "received", "OrderPlaced"),
            (2, "cancelled", "OrderCancelled")
        ]
    );
    assert_eq!(timeline["items"][1]["detail"]["by"], "shopper");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE event_type = 'order.OrderCancelled'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_api_documents_every_order_route() {
    let app = spawn_app().await;
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
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/orders/{id}/timeline",
        "/v1/orders/{id}/cancel",
        "/v1/orders/{id}/revised-price/accept",
        "/v1/orders/{id}/revised-price/refuse",
        "/v1/admin/orders",
        "/v1/admin/orders/{id}",
        "/v1/admin/orders/{id}/cancel",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
}

#[tokio::test]
async fn every_operation_in_the_openapi_document_has_an_operation_id_of_its_own() {
    let app = crate::helpers::spawn_app().await;
    let response = app.get_as(&app.admin_token, "/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if let Some(id) = operation["operationId"].as_str() {
                let earlier = seen.insert(id.to_owned(), format!("{method} {path}"));
                assert!(
                    earlier.is_none(),
                    "operationId {id} used by {} and {method} {path}",
                    earlier.unwrap_or_default()
                );
            }
        }
    }
    assert!(seen.contains_key("admin_get_order") && seen.contains_key("get_order"));
}
