//! Partners see and touch only their own work, in the portal and in fulfilment alike; a
//! foreign id is indistinguishable from one that does not exist. Shoppers reach neither.

use platform::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use system_tests::{Marketplace, Partner};

async fn status_of(
    market: &Marketplace,
    method: Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> u16 {
    let mut request = market.platform.http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status().as_u16()
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(market: &Marketplace, url: String, partner: &Partner) -> Value {
    let response = market
        .platform
        .http
        .get(url)
        .bearer_auth(&partner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_partner_gets_404_for_another_partners_jobs_partner_record_webhooks_and_deliveries() {
    let market = Marketplace::start().await;
    let owner = market
        .partner("Owner Logistics", "logistics", &["560001"])
        .await;
    let intruder = market
        .partner("Other Logistics", "logistics", &["110001"])
        .await;
    let platform = &market.platform;
    // The owner's webhook, registered before its job is offered, so the offer is delivered (the receiver need not exist).
    let webhook: Value = platform
        .http
        .post(market.portal.url("/v1/portal/webhooks"))
        .bearer_auth(&owner.token)
        .json(&json!({"url": "http://127.0.0.1:9/hooks"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    let shopper = platform.token("shopper-iso", Role::Shopper);
    let device = platform.device(&market.catalog).await;
    let quote = platform
        .quote_for(&market.quote, &shopper, device.variant_id, &device.best)
        .await;
    let order_id = platform
        .accepted_order(&market.order, &shopper, quote["id"].as_str().unwrap())
        .await;
    let job = market
        .wait_for_job(&owner, order_id, "pickup", "offered")
        .await;
    let job_id = job["id"].as_str().unwrap().to_owned();

    let deliveries_url = market.portal.url("/v1/portal/webhooks/deliveries");
    platform::testing::eventually(system_tests::SETTLE, "a delivery is logged", || async {
        !ids(&list(&market, deliveries_url.clone(), &owner).await).is_empty()
    })
    .await;
    let delivery_id = ids(&list(&market, deliveries_url.clone(), &owner).await)[0].clone();

    let portal = |path: String| market.portal.url(&path);
    let fulfilment = |path: String| market.fulfilment.url(&path);
    let foreign = [
        (
            Method::GET,
            portal(format!("/v1/portal/jobs/{job_id}")),
            None,
        ),
        (
            Method::POST,
            portal(format!("/v1/portal/jobs/{job_id}/accept")),
            Some(json!({})),
        ),
        (
            Method::POST,
            portal(format!("/v1/portal/jobs/{job_id}/decline")),
            Some(json!({"reason": "busy"})),
        ),
        (
            Method::POST,
            portal(format!("/v1/portal/jobs/{job_id}/picked-up")),
            Some(json!({})),
        ),
        (
            Method::POST,
            portal(format!("/v1/portal/jobs/{job_id}/delivered")),
            Some(json!({})),
        ),
        (
            Method::POST,
            portal(format!("/v1/portal/jobs/{job_id}/inspection-report")),
            Some(json!({"answers": device.best, "notes": ""})),
        ),
        (
            Method::DELETE,
            portal(format!("/v1/portal/webhooks/{webhook_id}")),
            None,
        ),
        (
            Method::POST,
            portal(format!("/v1/portal/webhooks/{webhook_id}/rotate-secret")),
            None,
        ),
        (
            Method::GET,
            portal(format!("/v1/portal/webhooks/deliveries/{delivery_id}")),
            None,
        ),
        (
            Method::POST,
            portal(format!(
                "/v1/portal/webhooks/deliveries/{delivery_id}/redeliver"
            )),
            None,
        ),
        (
            Method::GET,
            fulfilment(format!("/v1/admin/jobs/{job_id}")),
            None,
        ),
        (
            Method::GET,
            fulfilment(format!("/v1/admin/partners/{}", owner.id)),
            None,
        ),
    ];
    for (method, url, body) in foreign {
        let status = status_of(&market, method.clone(), url.clone(), &intruder.token, body).await;
        assert_eq!(status, 404, "{method} {url} as another partner");
    }

    // Lists never name what is not the caller's.
    let intruder_jobs = list(&market, market.portal.url("/v1/portal/jobs"), &intruder).await;
    assert!(!ids(&intruder_jobs).contains(&job_id));
    let intruder_hooks = list(&market, market.portal.url("/v1/portal/webhooks"), &intruder).await;
    assert!(!ids(&intruder_hooks).contains(&webhook_id));
    let intruder_deliveries = list(&market, deliveries_url.clone(), &intruder).await;
    assert!(!ids(&intruder_deliveries).contains(&delivery_id));
    let fulfilment_jobs = list(&market, market.fulfilment.url("/v1/admin/jobs"), &intruder).await;
    assert!(!ids(&fulfilment_jobs).contains(&job_id));
    let partners = list(
        &market,
        market.fulfilment.url("/v1/admin/partners"),
        &intruder,
    )
    .await;
    assert_eq!(ids(&partners), [intruder.id.to_string()]);

    // The owner does see them, through the same routes.
    let owner_jobs = list(&market, market.fulfilment.url("/v1/admin/jobs"), &owner).await;
    assert!(ids(&owner_jobs).contains(&job_id));
    let own = status_of(
        &market,
        Method::GET,
        portal(format!("/v1/portal/jobs/{job_id}")),
        &owner.token,
        None,
    )
    .await;
    assert_eq!(own, 200);

    // A shopper reaches neither the portal nor any admin route.
    let shopper_routes = [
        (Method::GET, portal("/v1/portal/jobs".into()), None),
        (
            Method::GET,
            portal(format!("/v1/portal/jobs/{job_id}")),
            None,
        ),
        (Method::GET, portal("/v1/portal/webhooks".into()), None),
        (Method::GET, portal("/v1/portal/admin/users".into()), None),
        (Method::GET, fulfilment("/v1/admin/jobs".into()), None),
        (Method::GET, fulfilment("/v1/admin/partners".into()), None),
        (
            Method::POST,
            fulfilment("/v1/admin/partners".into()),
            Some(
                json!({"name": "x", "kind": "logistics", "pincodes": ["560001"], "daily_capacity": 1}),
            ),
        ),
        (Method::GET, market.order.url("/v1/admin/orders"), None),
    ];
    for (method, url, body) in shopper_routes {
        let status = status_of(&market, method.clone(), url.clone(), &shopper, body).await;
        assert_eq!(status, 403, "{method} {url} as a shopper");
    }
    // And a partner cannot use the admins' writes.
    let status = status_of(
        &market,
        Method::POST,
        fulfilment("/v1/admin/partners".into()),
        &owner.token,
        Some(
            json!({"name": "x", "kind": "logistics", "pincodes": ["560001"], "daily_capacity": 1}),
        ),
    )
    .await;
    assert_eq!(status, 403);
}
