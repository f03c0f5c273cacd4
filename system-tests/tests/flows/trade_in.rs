//! The whole trade-in, across all six services, through their public APIs only: catalog
//! browse, quote, order, a pickup assigned to the partner serving the shopper's pincode,
//! the partner's reports in the portal, inspection re-priced by quote, payout or return,
//! and the day as the admins' reports tell it.

use platform::auth::Role;
use serde_json::{Value, json};
use system_tests::{Device, Marketplace, Partner, WebhookReceiver};
use uuid::Uuid;

struct Cast {
    shopper: String,
    /// Serves the shopper's pincode (560001).
    logistics: Partner,
    /// A logistics partner elsewhere: never offered these jobs.
    elsewhere: Partner,
    repair: Partner,
    device: Device,
}

fn events_of(timeline: &[(i64, String, String)]) -> Vec<&str> {
    timeline
        .iter()
        .map(|(_, _, event)| event.as_str())
        .collect()
}

async fn cast(market: &Marketplace) -> Cast {
    let logistics = market
        .partner("Swift Pickups", "logistics", &["560001"])
        .await;
    let elsewhere = market
        .partner("Delhi Couriers", "logistics", &["110001"])
        .await;
    let repair = market.partner("Fixit Labs", "repair", &["560001"]).await;
    // The shopper browses the catalog for the device they sell.
    let device = market.platform.device(&market.catalog).await;
    Cast {
        shopper: market.platform.token("shopper-e2e", Role::Shopper),
        logistics,
        elsewhere,
        repair,
        device,
    }
}

/// Quote → order → `confirmed`, then the pickup job offered to the right partner only.
async fn confirmed_with_pickup_offered(
    market: &Marketplace,
    cast: &Cast,
    answers: &Value,
) -> (Uuid, Value, Value) {
    let platform = &market.platform;
    let quote = platform
        .quote_for(
            &market.quote,
            &cast.shopper,
            cast.device.variant_id,
            answers,
        )
        .await;
    let id = platform
        .accepted_order(&market.order, &cast.shopper, quote["id"].as_str().unwrap())
        .await;
    platform
        .wait_for_status(&market.order, id, "confirmed")
        .await;
    let pickup = market
        .wait_for_job(&cast.logistics, id, "pickup", "offered")
        .await;
    assert!(
        market
            .portal_jobs(&cast.elsewhere)
            .await
            .iter()
            .all(|job| job["order_id"] != id.to_string()),
        "a partner that does not serve the pincode sees the job"
    );
    (id, quote, pickup)
}

/// Accepted, picked up and delivered to the hub; the inspection job offered to the repair
/// partner and accepted.
async fn picked_up_and_at_the_hub(
    market: &Marketplace,
    cast: &Cast,
    id: Uuid,
    pickup: &Value,
) -> Value {
    let platform = &market.platform;
    market
        .acts(&cast.logistics, pickup, "accept", json!({}))
        .await;
    let scheduled = platform
        .wait_for_status(&market.order, id, "pickup_scheduled")
        .await;
    assert_eq!(scheduled["partner_id"], cast.logistics.id.to_string());
    market
        .acts(&cast.logistics, pickup, "picked-up", json!({}))
        .await;
    platform
        .wait_for_status(&market.order, id, "picked_up")
        .await;
    market
        .acts(&cast.logistics, pickup, "delivered", json!({}))
        .await;
    market
        .wait_for_job(&cast.logistics, id, "pickup", "completed")
        .await;
    let inspection = market
        .wait_for_job(&cast.repair, id, "inspection", "offered")
        .await;
    market
        .acts(&cast.repair, &inspection, "accept", json!({}))
        .await;
    inspection
}

async fn inspected_as(market: &Marketplace, cast: &Cast, inspection: &Value, answers: &Value) {
    market
        .acts(
            &cast.repair,
            inspection,
            "inspection-report",
            json!({"answers": answers, "notes": "checked at the hub"}),
        )
        .await;
}

/// Returns what the shopper was paid, in minor units.
async fn same_condition_is_paid_the_quoted_price(market: &Marketplace, cast: &Cast) -> i64 {
    let platform = &market.platform;
    let (id, quote, pickup) = confirmed_with_pickup_offered(market, cast, &cast.device.best).await;
    let inspection = picked_up_and_at_the_hub(market, cast, id, &pickup).await;
    inspected_as(market, cast, &inspection, &cast.device.best).await;
    let completed = platform
        .wait_for_status(&market.order, id, "completed")
        .await;
    assert_eq!(completed["final_price"], quote["price"]);
    assert!(
        completed["payout_reference"]
            .as_str()
            .unwrap()
            .starts_with("rc-payout-")
    );
    market
        .wait_for_job(&cast.repair, id, "inspection", "completed")
        .await;
    assert_eq!(
        events_of(&platform.timeline(&market.order, id).await),
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPickupScheduled",
            "OrderPickedUp",
            "OrderInspected",
            "OrderCompleted"
        ]
    );
    quote["price"]["amount_minor"].as_i64().unwrap()
}

/// Returns what the shopper was paid, in minor units.
async fn worse_condition_accepted_is_paid_the_revised_price(
    market: &Marketplace,
    cast: &Cast,
) -> i64 {
    let platform = &market.platform;
    let (id, quote, pickup) = confirmed_with_pickup_offered(market, cast, &cast.device.best).await;
    let inspection = picked_up_and_at_the_hub(market, cast, id, &pickup).await;
    inspected_as(market, cast, &inspection, &cast.device.worst).await;
    let awaiting = platform
        .wait_for_status(&market.order, id, "awaiting_shopper")
        .await;
    let revised = awaiting["final_price"]["amount_minor"].as_i64().unwrap();
    assert!(revised < quote["price"]["amount_minor"].as_i64().unwrap());
    let accepted = platform
        .http
        .post(
            market
                .order
                .url(&format!("/v1/orders/{id}/revised-price/accept")),
        )
        .bearer_auth(&cast.shopper)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let completed = platform
        .wait_for_status(&market.order, id, "completed")
        .await;
    assert_eq!(completed["final_price"]["amount_minor"], revised);
    assert_eq!(
        events_of(&platform.timeline(&market.order, id).await),
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPickupScheduled",
            "OrderPickedUp",
            "OrderPriceRevised",
            "RevisedPriceAccepted",
            "OrderCompleted"
        ]
    );
    revised
}

async fn worse_condition_refused_goes_back_to_the_shopper(market: &Marketplace, cast: &Cast) {
    let platform = &market.platform;
    let (id, _, pickup) = confirmed_with_pickup_offered(market, cast, &cast.device.best).await;
    let inspection = picked_up_and_at_the_hub(market, cast, id, &pickup).await;
    inspected_as(market, cast, &inspection, &cast.device.worst).await;
    platform
        .wait_for_status(&market.order, id, "awaiting_shopper")
        .await;
    let refused = platform
        .http
        .post(
            market
                .order
                .url(&format!("/v1/orders/{id}/revised-price/refuse")),
        )
        .bearer_auth(&cast.shopper)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 200);
    let back = market
        .wait_for_job(&cast.logistics, id, "return", "offered")
        .await;
    market
        .acts(&cast.logistics, &back, "accept", json!({}))
        .await;
    market
        .acts(&cast.logistics, &back, "picked-up", json!({}))
        .await;
    market
        .acts(&cast.logistics, &back, "delivered", json!({}))
        .await;
    let returned = platform
        .wait_for_status(&market.order, id, "returned")
        .await;
    assert!(returned["payout_reference"].is_null());
    assert_eq!(
        events_of(&platform.timeline(&market.order, id).await),
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPickupScheduled",
            "OrderPickedUp",
            "OrderPriceRevised",
            "RevisedPriceRefused",
            "OrderReturned"
        ]
    );
}

async fn cancelled_before_pickup_cancels_the_job_and_tells_the_partner(
    market: &Marketplace,
    cast: &Cast,
    receiver: &WebhookReceiver,
) {
    let platform = &market.platform;
    let (id, _, pickup) = confirmed_with_pickup_offered(market, cast, &cast.device.best).await;
    market
        .acts(&cast.logistics, &pickup, "accept", json!({}))
        .await;
    platform
        .wait_for_status(&market.order, id, "pickup_scheduled")
        .await;
    let cancelled = platform
        .http
        .post(market.order.url(&format!("/v1/orders/{id}/cancel")))
        .bearer_auth(&cast.shopper)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    market
        .wait_for_job(&cast.logistics, id, "pickup", "cancelled")
        .await;
    let job_id = pickup["id"].clone();
    system_tests::eventually_true("the partner's webhook hears of the cancellation", || {
        receiver
            .deliveries()
            .iter()
            .any(|delivery| delivery["type"] == "job.cancelled" && delivery["job"]["id"] == job_id)
    })
    .await;
    let admin_view = platform
        .get(
            &market.fulfilment,
            &format!("/v1/admin/jobs/{}", job_id.as_str().unwrap()),
            Some(&platform.admin_token),
        )
        .await;
    assert_eq!(admin_view["status"], "cancelled");
    assert_eq!(
        events_of(&platform.timeline(&market.order, id).await),
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPickupScheduled",
            "OrderCancelled"
        ]
    );
}

/// Four trade-ins side by side on one marketplace: paid as quoted, paid at a revised price,
/// returned after a refused price, and cancelled before pickup; then the metrics and the
/// reports count them exactly.
#[tokio::test]
async fn a_trade_in_runs_through_all_six_services_to_payout_revised_payout_return_or_cancellation()
{
    let market = Marketplace::start().await;
    let cast = cast(&market).await;
    let receiver = WebhookReceiver::start().await;
    let response = market
        .platform
        .http
        .post(market.portal.url("/v1/portal/webhooks"))
        .bearer_auth(&cast.logistics.token)
        .json(&json!({"url": receiver.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);

    let (paid_as_quoted, paid_as_revised, (), ()) = tokio::join!(
        same_condition_is_paid_the_quoted_price(&market, &cast),
        worse_condition_accepted_is_paid_the_revised_price(&market, &cast),
        worse_condition_refused_goes_back_to_the_shopper(&market, &cast),
        cancelled_before_pickup_cancels_the_job_and_tells_the_partner(&market, &cast, &receiver),
    );

    // The partner's webhook heard once of every job it was offered: four pickups, one return.
    let assigned = || {
        receiver
            .deliveries()
            .iter()
            .filter(|delivery| delivery["type"] == "job.assigned")
            .count()
    };
    system_tests::eventually_true("five assignments delivered", || assigned() >= 5).await;
    assert_eq!(assigned(), 5, "{:#?}", receiver.deliveries());
    receiver.stop().await;

    // The business as the metrics tell it: two payouts and their money; four quotes
    // issued, four orders placed, two completed, as their events left the outbox.
    let order = &market.order;
    let platform = &market.platform;
    assert_eq!(
        platform
            .metric(
                order,
                "order_payouts_total",
                &[("method", "upi"), ("currency", "INR")]
            )
            .await,
        2.0
    );
    assert_eq!(
        platform
            .metric(order, "order_paid_out_minor_total", &[("currency", "INR")])
            .await,
        (paid_as_quoted + paid_as_revised) as f64
    );
    for (service, event_type, count) in [
        (&market.quote, "quote.QuoteIssued", 4.0),
        (order, "order.OrderPlaced", 4.0),
        (order, "order.OrderCompleted", 2.0),
        (order, "order.OrderReturned", 1.0),
    ] {
        let what = format!("{count} {event_type} counted as published");
        platform::testing::eventually(system_tests::SETTLE, &what, || async {
            platform
                .metric(
                    service,
                    "outbox_published_total",
                    &[("event_type", event_type)],
                )
                .await
                == count
        })
        .await;
    }

    // The same day as the admins' reports tell it, from every service's events.
    let reports = Reports {
        market: &market,
        token: platform.admin_token.clone(),
    };
    let summary = reports
        .when("/v1/admin/reports/summary", |summary| {
            // Quote events travel on a topic of their own: wait for them too.
            summary["payouts"][0]["orders_paid"] == 2
                && count(summary, "returned") == 1
                && count(summary, "cancelled") == 1
                && summary["quotes_ordered"] == 4
        })
        .await;
    assert_eq!(summary["quotes_issued"], 4);
    assert_eq!(summary["quotes_ordered"], 4);
    assert_eq!(summary["conversion"], 1.0);
    assert_eq!(summary["orders_placed"], 4);
    for (status, orders) in [
        ("completed", 2),
        ("returned", 1),
        ("cancelled", 1),
        ("received", 0),
    ] {
        assert_eq!(count(&summary, status), orders, "{status}: {summary:#}");
    }
    let payouts = &summary["payouts"][0];
    assert_eq!(payouts["currency"], "INR");
    assert_eq!(payouts["total_minor"], paid_as_quoted + paid_as_revised);
    assert!(payouts["average_seconds_to_payout"].as_f64().unwrap() > 0.0);
    let prices = &summary["prices"][0];
    assert_eq!(prices["orders_inspected"], 3, "{summary:#}");
    assert_eq!(prices["revised_down"], 2, "{summary:#}");
    assert!(
        summary["stuck"]
            .as_array()
            .unwrap()
            .iter()
            .all(|count| count["orders"] == 0)
    );

    // Pickups are due on their slot day, ahead of today: the range reaches two months on.
    let today = chrono::Utc::now().date_naive();
    let partners_path = format!(
        "/v1/admin/reports/partners?from={today}&to={}",
        today + chrono::Duration::days(61)
    );
    let partners = reports
        .when(&partners_path, |report| {
            // Offers and answers come on two topics: wait for the last of each.
            let logistics = partner(report, cast.logistics.id);
            logistics["pickups"] == 3
                && logistics["offers"] == 5
                && logistics["accepted"] == 5
                && partner(report, cast.repair.id)["accepted"] == 3
        })
        .await;
    let logistics = partner(&partners, cast.logistics.id);
    assert_eq!(
        (
            &logistics["offers"],
            &logistics["accepted"],
            &logistics["declined"]
        ),
        (&json!(5), &json!(5), &json!(0)),
        "four pickups and a return, all accepted: {logistics:#}"
    );
    assert_eq!(
        logistics["on_time_pickups"], 3,
        "picked up before their slot day"
    );
    let repair = partner(&partners, cast.repair.id);
    assert_eq!(
        (&repair["offers"], &repair["pickups"]),
        (&json!(3), &json!(0))
    );
    assert!(
        partners["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["partner_id"] != cast.elsewhere.id.to_string()),
        "a partner never offered a job is not in the report"
    );
}

/// The admins' reports, read until they settle.
struct Reports<'a> {
    market: &'a Marketplace,
    token: String,
}

impl Reports<'_> {
    async fn when(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let last = std::cell::RefCell::new(Value::Null);
        platform::testing::eventually(system_tests::SETTLE, path, || async {
            let report: Value = self
                .market
                .platform
                .get(&self.market.reporting, path, Some(&self.token))
                .await;
            let settled = done(&report);
            *last.borrow_mut() = report;
            settled
        })
        .await;
        last.into_inner()
    }
}

fn count(summary: &Value, status: &str) -> i64 {
    summary["orders_by_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|count| count["status"] == status)
        .and_then(|count| count["orders"].as_i64())
        .unwrap()
}

fn partner(report: &Value, id: Uuid) -> Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["partner_id"] == id.to_string())
        .cloned()
        .unwrap_or(Value::Null)
}
