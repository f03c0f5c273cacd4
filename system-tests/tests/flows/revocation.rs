//! Disabling a partner user in the portal cuts its token off in every service, not only in
//! the portal, and enabling it again does not bring the old token back.

use std::time::Duration;

use serde_json::{Value, json};
use system_tests::Marketplace;

/// One route per service that a partner token reaches (allowed or not, but authenticated).
fn probes(market: &Marketplace, partner_id: uuid::Uuid) -> Vec<(&'static str, String)> {
    vec![
        ("catalog", market.catalog.url("/v1/admin/catalog/models")),
        ("quote", market.quote.url("/v1/admin/pricing/adjustments")),
        ("order", market.order.url("/v1/orders")),
        ("fulfilment", market.fulfilment.url("/v1/admin/jobs")),
        (
            "fulfilment",
            market
                .fulfilment
                .url(&format!("/v1/admin/partners/{partner_id}")),
        ),
        ("portal", market.portal.url("/v1/portal/jobs")),
    ]
}

async fn answer(market: &Marketplace, url: &str, token: &str) -> (u16, Value) {
    let response = market
        .platform
        .http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn wait_until_every_service_refuses(
    market: &Marketplace,
    partner_id: uuid::Uuid,
    token: &str,
) {
    for (service, url) in probes(market, partner_id) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = answer(market, &url, token).await;
            if status == 401 {
                assert!(
                    matches!(
                        body["code"].as_str(),
                        Some("token_revoked" | "user_disabled")
                    ),
                    "{service} {url}: {body}"
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{service} {url} still answers {status} to a disabled user's token"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_disabled_partner_users_token_stops_working_in_every_service() {
    let market = Marketplace::start().await;
    let partner = market
        .partner("Swift Logistics", "logistics", &["560001"])
        .await;
    for (service, url) in probes(&market, partner.id) {
        let (status, body) = answer(&market, &url, &partner.token).await;
        assert_ne!(status, 401, "{service} {url} refused a valid token: {body}");
    }

    let user = market
        .portal
        .url(&format!("/v1/portal/admin/users/{}", partner.user_id));
    let admin = &market.platform.admin_token;
    let disable = market
        .platform
        .http
        .patch(&user)
        .bearer_auth(admin)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(disable.status(), 200);
    wait_until_every_service_refuses(&market, partner.id, &partner.token).await;

    // Enabled again, the old token stays void; a token issued now works everywhere.
    let enable = market
        .platform
        .http
        .patch(&user)
        .bearer_auth(admin)
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(enable.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let fresh = loop {
        let issued: Value = market
            .platform
            .http
            .post(market.portal.url(&format!(
                "/v1/portal/admin/users/{}/tokens",
                partner.user_id
            )))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = issued["token"].as_str().unwrap().to_owned();
        let mut accepted = true;
        for (_, url) in probes(&market, partner.id) {
            accepted &= answer(&market, &url, &token).await.0 != 401;
        }
        if accepted {
            break token;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a token issued after re-enabling was never accepted everywhere"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ne!(fresh, partner.token);
    wait_until_every_service_refuses(&market, partner.id, &partner.token).await;
}
