use std::time::Duration;

use platform::testing::{eventually, sample};
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_order_whose_quote_service_is_down_stays_received_and_is_retried_with_backoff() {
    let app = spawn_app().await;
    let order_id = app.accepted_order().await;
    let path = format!("/v1/admin/orders/{order_id}");

    eventually(
        Duration::from_secs(20),
        "three attempts were made",
        || async {
            app.admin_json(&path).await["processing"]["attempts"]
                .as_i64()
                .unwrap()
                >= 3
        },
    )
    .await;

    let order: Value = app.admin_json(&path).await;
    assert_eq!(order["status"], "received");
    assert!(
        order["processing"]["last_error"]
            .as_str()
            .unwrap()
            .contains("quote service is unavailable"),
        "{order}"
    );
    let next = order["processing"]["next_attempt_at"].as_str().unwrap();
    assert!(next > order["created_at"].as_str().unwrap());
    // A shopper sees the order, not the machinery.
    let mine: Value = app
        .get_as(&app.shopper_token, &format!("/v1/orders/{order_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(mine.get("processing").is_none());
}

/// An open order the processor cannot move (quote is down) and unchanged for longer than
/// `order.stuck_after_minutes` (60 by default) is counted in `orders_stuck` by its status;
/// a fresh one is not.
#[tokio::test]
async fn an_open_order_unchanged_past_the_stuck_limit_is_counted_as_stuck_by_its_status() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let app = spawn_app().await;
    let stuck = app.accepted_order().await;
    let _fresh = app.accepted_order().await;
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "UPDATE orders SET status_changed_at = $1 WHERE id = $2",
        _ => "UPDATE orders SET status_changed_at = ? WHERE id = ?",
    };
    let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    let updated = app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [two_hours_ago.into(), stuck.into()],
        ))
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1);

    eventually(
        Duration::from_secs(20),
        "the stuck order is counted",
        || async {
            let metrics = app.service.metrics().await;
            sample(&metrics, "orders_stuck", &[("status", "received")]) == Some(1.0)
        },
    )
    .await;
    // Both orders existed at that reading: exactly one means the fresh one was not counted.
}
