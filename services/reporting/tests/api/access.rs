//! Reports are for admins; a malformed range is a 400 naming what is wrong.

use platform::auth::Role;
use serde_json::Value;

use crate::helpers::{Topics, spawn_app};

const REPORTS: [&str; 5] = [
    "/v1/admin/reports/summary",
    "/v1/admin/reports/daily",
    "/v1/admin/reports/daily.csv",
    "/v1/admin/reports/partners",
    "/v1/admin/reports/partners.csv",
];

#[tokio::test]
async fn only_admins_read_reports_and_the_role_is_checked_before_the_query() {
    let topics = Topics::start().await;
    let app = spawn_app(&topics).await;
    let shopper = app.token(Role::Shopper);
    let partner = app.partner_token(uuid::Uuid::now_v7());
    for path in REPORTS {
        let anonymous = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        for token in [&shopper, &partner] {
            // A malformed query too: the role is refused first.
            let response = app.get_as(token, &format!("{path}?from=yesterday")).await;
            assert_eq!(response.status(), 403, "{path}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "forbidden");
        }
        assert_eq!(
            app.get_as(&app.admin_token, path).await.status(),
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_malformed_reversed_or_overlong_range_is_a_400_problem() {
    let topics = Topics::start().await;
    let app = spawn_app(&topics).await;
    for query in [
        "from=yesterday",
        "to=2026-13-01",
        "from=2026-12-02&to=2026-12-01",
        "from=2024-01-01&to=2026-12-01",
        "stuck_after_minutes=0",
        "stuck_after_minutes=5270401",
        "stuck_after_minutes=-1",
    ] {
        let path = if query.starts_with("stuck") {
            format!("/v1/admin/reports/summary?{query}")
        } else {
            format!("/v1/admin/reports/daily?{query}")
        };
        let response = app.get_as(&app.admin_token, &path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_query_parameter", "{path}");
    }
}

#[tokio::test]
async fn with_no_range_the_daily_report_covers_the_last_thirty_days_with_zeros() {
    let topics = Topics::start().await;
    let app = spawn_app(&topics).await;
    let daily = app.json("/v1/admin/reports/daily").await;
    let items = daily["items"].as_array().unwrap();
    assert_eq!(items.len(), 30);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(daily["to"], today.as_str());
    assert_eq!(items[29]["day"], today.as_str());
    assert!(items.iter().all(|day| day["orders_placed"] == 0));
}
