//! Orders driven through several states by the events their services would publish, and
//! the reports' figures checked exactly.

use chrono::{DateTime, TimeZone, Utc};
use events::fulfilment::{DevicePickedUp, JobCreated, PartnerAssigned};
use events::order::{
    Money, OrderCancelled, OrderCompleted, OrderConfirmed, OrderInspected, OrderPickedUp,
    OrderPickupScheduled, OrderPlaced, OrderPriceRevised, OrderRejected, OrderReturned,
    RevisedPriceAccepted, RevisedPriceRefused,
};
use events::partner::{JobAccepted, JobDeclined, PickupReported};
use events::quote::QuoteIssued;
use serde_json::{Value, json};
use uuid::Uuid;

use platform::testing::sample;

use crate::helpers::{Topics, spawn_app};

/// 2026-11-10 and 2026-11-11, UTC: the two days the scenario happens on.
pub const RANGE: &str = "from=2026-11-10&to=2026-11-11";

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .unwrap()
}

fn inr(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "INR".into(),
    })
}

/// The partners of the scenario.
pub struct Cast {
    pub first_partner: Uuid,
    pub second_partner: Uuid,
}

/// Seven quotes, six orders and three pickup jobs over two days, as quote, order,
/// fulfilment and the partner portal would publish them:
/// - A: quoted 500.00, inspected at the quote, paid 500.00 four hours after placing.
/// - B: quoted 300.00, revised to 240.00 and accepted, paid the next day (24 h).
/// - C: rejected. D: cancelled after confirmation. E: waits in `pickup_scheduled` (stuck).
/// - F: quoted 400.00, revised to 100.00, refused, returned.
/// - The seventh quote is never ordered.
///
/// The first partner is offered A's, B's and F's pickups and accepts all three; A's pickup
/// (a morning slot, due 07:30 UTC) is reported at 10:58, late; B's (an evening slot, due
/// 15:30 UTC) at 11:00 and F's (an afternoon slot, due 11:30 UTC) at 10:30, on time. The
/// second partner declines B's pickup and never answers E's.
pub async fn publish_scenario(topics: &Topics) -> Cast {
    let cast = Cast {
        first_partner: Uuid::now_v7(),
        second_partner: Uuid::now_v7(),
    };
    let quotes: Vec<Uuid> = (0..7).map(|_| Uuid::now_v7()).collect();
    for (index, quote) in quotes.iter().enumerate() {
        let day = if index < 5 { 10 } else { 11 };
        let issued = QuoteIssued {
            quote_id: quote.to_string(),
            price: Some(events::quote::Money {
                amount_minor: 10_000,
                currency: "INR".into(),
            }),
            ..QuoteIssued::default()
        };
        topics
            .says("quote", quote, &issued, at(day, 7, index as u32))
            .await;
    }
    let order = |event_order: Uuid| event_order.to_string();

    // A: placed 10:00 on the 10th, paid 14:00.
    let a = Uuid::now_v7();
    let placed = |id: Uuid, quote: Uuid| OrderPlaced {
        order_id: id.to_string(),
        quote_id: quote.to_string(),
        ..OrderPlaced::default()
    };
    let confirmed = |id: Uuid, amount| OrderConfirmed {
        order_id: id.to_string(),
        quoted_price: inr(amount),
        ..OrderConfirmed::default()
    };
    let scheduled = |id: Uuid| OrderPickupScheduled {
        order_id: id.to_string(),
        ..OrderPickupScheduled::default()
    };
    let picked = |id: Uuid| OrderPickedUp {
        order_id: id.to_string(),
    };
    topics
        .says("order", a, &placed(a, quotes[0]), at(10, 10, 0))
        .await;
    topics
        .says("order", a, &confirmed(a, 50_000), at(10, 10, 1))
        .await;
    topics.says("order", a, &scheduled(a), at(10, 10, 5)).await;
    topics.says("order", a, &picked(a), at(10, 11, 0)).await;
    let inspected = OrderInspected {
        order_id: order(a),
        final_price: inr(50_000),
    };
    topics.says("order", a, &inspected, at(10, 12, 0)).await;
    let completed = OrderCompleted {
        order_id: order(a),
        paid: inr(50_000),
        payout_reference: "payout-a".into(),
    };
    let completed_id = topics.says("order", a, &completed, at(10, 14, 0)).await;
    // Delivered twice (a producer's retry): counted once.
    let mut again =
        events::Envelope::wrap_at(&completed, a.to_string(), 6, "order", "", at(10, 14, 0));
    again.event_id = completed_id;
    topics
        .broker
        .send(events::topics::ORDER_EVENTS, again, None)
        .await;

    // B: placed 10:00, revised, accepted, paid 10:00 on the 11th.
    let b = Uuid::now_v7();
    topics
        .says("order", b, &placed(b, quotes[1]), at(10, 10, 0))
        .await;
    topics
        .says("order", b, &confirmed(b, 30_000), at(10, 10, 2))
        .await;
    topics.says("order", b, &scheduled(b), at(10, 10, 10)).await;
    topics.says("order", b, &picked(b), at(10, 11, 0)).await;
    let revised = |id: Uuid, quoted, revised| OrderPriceRevised {
        order_id: id.to_string(),
        quoted_price: inr(quoted),
        revised_price: inr(revised),
    };
    topics
        .says("order", b, &revised(b, 30_000, 24_000), at(10, 12, 0))
        .await;
    let accepted = RevisedPriceAccepted {
        order_id: order(b),
        revised_price: inr(24_000),
    };
    topics.says("order", b, &accepted, at(10, 13, 0)).await;
    let completed = OrderCompleted {
        order_id: order(b),
        paid: inr(24_000),
        payout_reference: "payout-b".into(),
    };
    topics.says("order", b, &completed, at(11, 10, 0)).await;

    // C: rejected a minute after placing.
    let c = Uuid::now_v7();
    topics
        .says("order", c, &placed(c, quotes[2]), at(10, 9, 0))
        .await;
    let rejected = OrderRejected {
        order_id: order(c),
        reason: "quote expired".into(),
    };
    topics.says("order", c, &rejected, at(10, 9, 1)).await;

    // D: placed on the 11th, cancelled by the shopper.
    let d = Uuid::now_v7();
    topics
        .says("order", d, &placed(d, quotes[5]), at(11, 8, 0))
        .await;
    topics
        .says("order", d, &confirmed(d, 20_000), at(11, 8, 1))
        .await;
    let cancelled = OrderCancelled {
        order_id: order(d),
        cancelled_by: "shopper".into(),
        reason: "changed my mind".into(),
    };
    topics.says("order", d, &cancelled, at(11, 9, 0)).await;

    // E: waiting for its pickup since 08:10 on the 11th.
    let e = Uuid::now_v7();
    topics
        .says("order", e, &placed(e, quotes[6]), at(11, 8, 0))
        .await;
    topics
        .says("order", e, &confirmed(e, 20_000), at(11, 8, 1))
        .await;
    topics.says("order", e, &scheduled(e), at(11, 8, 10)).await;

    // F: revised far down, refused, returned.
    let f = Uuid::now_v7();
    topics
        .says("order", f, &placed(f, quotes[3]), at(10, 9, 30))
        .await;
    topics
        .says("order", f, &confirmed(f, 40_000), at(10, 9, 31))
        .await;
    topics.says("order", f, &scheduled(f), at(10, 9, 40)).await;
    topics.says("order", f, &picked(f), at(10, 10, 30)).await;
    topics
        .says("order", f, &revised(f, 40_000, 10_000), at(10, 11, 30))
        .await;
    let refused = RevisedPriceRefused {
        order_id: order(f),
        return_to: None,
    };
    topics.says("order", f, &refused, at(10, 12, 30)).await;
    topics
        .says(
            "order",
            f,
            &OrderReturned { order_id: order(f) },
            at(10, 16, 30),
        )
        .await;

    // Pickup jobs and the partners' answers.
    let job = |order_id: Uuid, job_id: Uuid, window: &str| JobCreated {
        order_id: order_id.to_string(),
        job_id: job_id.to_string(),
        kind: "pickup".into(),
        slot_date: "2026-11-10".into(),
        slot_window: window.into(),
        ..JobCreated::default()
    };
    let offer = |order_id: Uuid, job_id: Uuid, partner: Uuid| PartnerAssigned {
        order_id: order_id.to_string(),
        job_id: job_id.to_string(),
        partner_id: partner.to_string(),
        kind: "pickup".into(),
    };
    let (job_a, job_b, job_e) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (first, second) = (cast.first_partner, cast.second_partner);
    // The partner's answer may reach reporting before fulfilment's offer: published first.
    let accept = |order_id: Uuid, job_id: Uuid, partner: Uuid| JobAccepted {
        order_id: order_id.to_string(),
        job_id: job_id.to_string(),
        partner_id: partner.to_string(),
    };
    topics
        .says("partner-portal", a, &accept(a, job_a, first), at(10, 10, 6))
        .await;
    topics
        .says("fulfilment", a, &job(a, job_a, "morning"), at(10, 10, 2))
        .await;
    topics
        .says("fulfilment", a, &offer(a, job_a, first), at(10, 10, 3))
        .await;
    let reported = PickupReported {
        order_id: order(a),
        job_id: job_a.to_string(),
        partner_id: first.to_string(),
    };
    topics
        .says("partner-portal", a, &reported, at(10, 10, 58))
        .await;
    let device = |order_id: Uuid, job_id: Uuid, partner: Uuid| DevicePickedUp {
        order_id: order_id.to_string(),
        job_id: job_id.to_string(),
        partner_id: partner.to_string(),
    };
    topics
        .says("fulfilment", a, &device(a, job_a, first), at(10, 11, 0))
        .await;

    topics
        .says("fulfilment", b, &job(b, job_b, "evening"), at(10, 10, 3))
        .await;
    topics
        .says("fulfilment", b, &offer(b, job_b, second), at(10, 10, 4))
        .await;
    let declined = JobDeclined {
        order_id: order(b),
        job_id: job_b.to_string(),
        partner_id: second.to_string(),
        reason: "no rider".into(),
    };
    topics
        .says("partner-portal", b, &declined, at(10, 10, 6))
        .await;
    topics
        .says("fulfilment", b, &offer(b, job_b, first), at(10, 10, 7))
        .await;
    topics
        .says("partner-portal", b, &accept(b, job_b, first), at(10, 10, 9))
        .await;
    topics
        .says("fulfilment", b, &device(b, job_b, first), at(10, 11, 0))
        .await;

    // F's pickup: an afternoon slot (due 11:30 UTC), picked up at 10:30, on time.
    let job_f = Uuid::now_v7();
    topics
        .says("fulfilment", f, &job(f, job_f, "afternoon"), at(10, 9, 35))
        .await;
    topics
        .says("fulfilment", f, &offer(f, job_f, first), at(10, 9, 36))
        .await;
    topics
        .says("partner-portal", f, &accept(f, job_f, first), at(10, 9, 38))
        .await;
    topics
        .says("fulfilment", f, &device(f, job_f, first), at(10, 10, 30))
        .await;

    topics
        .says("fulfilment", e, &job(e, job_e, "morning"), at(11, 8, 5))
        .await;
    topics
        .says("fulfilment", e, &offer(e, job_e, second), at(11, 8, 6))
        .await;
    cast
}

/// The summary as the scenario must leave it, without `as_of`.
pub fn expected_summary() -> Value {
    let statuses = |counts: &[(&str, i64)]| -> Vec<Value> {
        [
            "received",
            "confirmed",
            "pickup_scheduled",
            "picked_up",
            "inspected",
            "awaiting_shopper",
            "returning",
            "returned",
            "completed",
            "rejected",
            "cancelled",
        ]
        .iter()
        .map(|status| {
            let orders = counts
                .iter()
                .find(|(name, _)| name == status)
                .map_or(0, |(_, count)| *count);
            json!({"status": status, "orders": orders})
        })
        .collect()
    };
    let open = |counts: Vec<Value>| -> Vec<Value> {
        counts
            .into_iter()
            .filter(|count| {
                !["returned", "completed", "rejected", "cancelled"]
                    .contains(&count["status"].as_str().unwrap())
            })
            .collect()
    };
    let minutes = |m: f64| m * 60.0;
    json!({
        "from": "2026-11-10",
        "to": "2026-11-11",
        "quotes_issued": 7,
        "quotes_ordered": 6,
        "conversion": 0.8571,
        "orders_placed": 6,
        "orders_by_status": statuses(&[("returned", 1), ("completed", 2), ("rejected", 1), ("cancelled", 1), ("pickup_scheduled", 1)]),
        "payouts": [{
            "currency": "INR",
            "orders_paid": 2,
            "total_minor": 74_000,
            "average_seconds_to_payout": 50_400.0,
            "longest_seconds_to_payout": 86_400.0,
        }],
        "prices": [{
            "currency": "INR",
            "orders_inspected": 3,
            "average_quoted_minor": 40_000.0,
            "average_final_minor": 28_000.0,
            "revised_down": 2,
        }],
        // Received: A 1, B 2, C 1, D 1, E 1, F 1 minutes. Confirmed: A 4, B 8, D 59, E 9, F 9.
        // Pickup scheduled: A 55, B 50, F 50. Picked up: A 60, B 60, F 60.
        // Inspected: A 120 (to payout), B 1260 (accepted 13:00 → paid 10:00 next day).
        // Awaiting shopper: B 60, F 60. Returning: F 240.
        "time_in_status": [
            {"status": "received", "left": 6, "average_seconds": minutes(7.0 / 6.0), "longest_seconds": minutes(2.0)},
            {"status": "confirmed", "left": 5, "average_seconds": minutes(89.0 / 5.0), "longest_seconds": minutes(59.0)},
            {"status": "pickup_scheduled", "left": 3, "average_seconds": minutes(155.0 / 3.0), "longest_seconds": minutes(55.0)},
            {"status": "picked_up", "left": 3, "average_seconds": minutes(60.0), "longest_seconds": minutes(60.0)},
            {"status": "inspected", "left": 2, "average_seconds": minutes(690.0), "longest_seconds": minutes(1260.0)},
            {"status": "awaiting_shopper", "left": 2, "average_seconds": minutes(60.0), "longest_seconds": minutes(60.0)},
            {"status": "returning", "left": 1, "average_seconds": minutes(240.0), "longest_seconds": minutes(240.0)},
        ],
        "stuck_after_minutes": 60,
        "stuck": open(statuses(&[("pickup_scheduled", 1)])),
    })
}

fn without_as_of(mut summary: Value) -> Value {
    summary.as_object_mut().unwrap().remove("as_of");
    summary
}

/// Rounds every float to two places, as the report does, for comparing.
fn rounded(value: Value) -> Value {
    match value {
        Value::Number(number) if number.is_f64() => {
            json!((number.as_f64().unwrap() * 100.0).round() / 100.0)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(rounded).collect()),
        Value::Object(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, rounded(v))).collect())
        }
        other => other,
    }
}

pub fn same_figures(summary: &Value) -> bool {
    rounded(without_as_of(summary.clone())) == rounded(expected_summary())
}

pub fn expected_partners(cast: &Cast) -> Value {
    let mut items = vec![
        json!({"partner_id": cast.first_partner, "offers": 3, "accepted": 3, "declined": 0, "acceptance_rate": 1.0, "pickups": 3, "on_time_pickups": 2, "on_time_rate": 0.6667}),
        json!({"partner_id": cast.second_partner, "offers": 2, "accepted": 0, "declined": 1, "acceptance_rate": 0.0, "pickups": 0, "on_time_pickups": 0, "on_time_rate": null}),
    ];
    items.sort_by_key(|item| item["partner_id"].as_str().unwrap().to_owned());
    json!({"from": "2026-11-10", "to": "2026-11-11", "items": items})
}

#[tokio::test]
async fn the_reports_give_exact_figures_for_orders_driven_through_several_states() {
    let topics = Topics::start().await;
    let app = spawn_app(&topics).await;
    let cast = publish_scenario(&topics).await;

    let summary = app
        .report_when(&format!("/v1/admin/reports/summary?{RANGE}"), same_figures)
        .await;
    assert_eq!(rounded(without_as_of(summary)), rounded(expected_summary()));

    let partners = app
        .report_when(&format!("/v1/admin/reports/partners?{RANGE}"), |report| {
            *report == expected_partners(&cast)
        })
        .await;
    assert_eq!(partners, expected_partners(&cast));

    let daily = app.json(&format!("/v1/admin/reports/daily?{RANGE}")).await;
    let days: Vec<(String, i64, i64)> = daily["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|day| {
            (
                day["day"].as_str().unwrap().to_owned(),
                day["quotes_issued"].as_i64().unwrap(),
                day["orders_placed"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [("2026-11-10".into(), 5, 4), ("2026-11-11".into(), 2, 2)]
    );

    // One day only: B's payout (the 11th) falls outside it; A's is the only one.
    let first_day = app
        .json("/v1/admin/reports/summary?from=2026-11-10&to=2026-11-10")
        .await;
    assert_eq!(first_day["payouts"][0]["orders_paid"], 1);
    assert_eq!(first_day["payouts"][0]["total_minor"], 50_000);
    assert_eq!(first_day["orders_placed"], 4);
    assert_eq!(first_day["quotes_issued"], 5);

    // The same stays as a histogram on /metrics. Received: five stays of a minute, one of two.
    let received = [("status", "received")];
    let bucket = |le: &'static str| [("status", "received"), ("le", le)];
    platform::testing::eventually(crate::helpers::SETTLE, "the histogram is read", || async {
        // A reading taken after the last of the 22 stays was projected.
        let metrics = app.metrics().await;
        let stays: f64 = metrics
            .lines()
            .filter(|line| line.starts_with("order_time_in_status_seconds_count{"))
            .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum();
        stays == 22.0
    })
    .await;
    let metrics = app.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "order_time_in_status_seconds_bucket",
            &bucket("60")
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "order_time_in_status_seconds_bucket",
            &bucket("300")
        ),
        Some(6.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "order_time_in_status_seconds_bucket",
            &bucket("+Inf")
        ),
        Some(6.0)
    );
    assert_eq!(
        sample(&metrics, "order_time_in_status_seconds_sum", &received),
        Some(420.0)
    );
    let returning = [("status", "returning")];
    assert_eq!(
        sample(&metrics, "order_time_in_status_seconds_count", &returning),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "order_time_in_status_seconds_bucket",
            &[("status", "returning"), ("le", "14400")]
        ),
        Some(1.0),
        "four hours is within the 14400 s bucket"
    );
    assert_eq!(
        sample(
            &metrics,
            "order_time_in_status_seconds_bucket",
            &[("status", "returning"), ("le", "3600")]
        ),
        Some(0.0)
    );

    // E has waited since 2026-11-11: under a ten-year limit nothing is stuck.
    let patient = app
        .json(&format!(
            "/v1/admin/reports/summary?{RANGE}&stuck_after_minutes=5270400"
        ))
        .await;
    assert!(
        patient["stuck"]
            .as_array()
            .unwrap()
            .iter()
            .all(|count| count["orders"] == 0)
    );
}

#[tokio::test]
async fn the_reports_download_as_csv_with_a_line_per_day_and_per_partner() {
    let topics = Topics::start().await;
    let app = spawn_app(&topics).await;
    let cast = publish_scenario(&topics).await;
    app.report_when(&format!("/v1/admin/reports/summary?{RANGE}"), same_figures)
        .await;
    app.report_when(&format!("/v1/admin/reports/partners?{RANGE}"), |report| {
        *report == expected_partners(&cast)
    })
    .await;

    let response = app
        .get_as(
            &app.admin_token,
            &format!("/v1/admin/reports/daily.csv?{RANGE}"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"daily-2026-11-10-2026-11-11.csv\""
    );
    assert_eq!(
        response.text().await.unwrap(),
        "day,quotes_issued,orders_placed,received,confirmed,pickup_scheduled,picked_up,inspected,awaiting_shopper,returning,returned,completed,rejected,cancelled\r\n\
         2026-11-10,5,4,0,0,0,0,0,0,0,1,2,1,0\r\n\
         2026-11-11,2,2,0,0,1,0,0,0,0,0,0,0,1\r\n"
    );

    let response = app
        .get_as(
            &app.admin_token,
            &format!("/v1/admin/reports/partners.csv?{RANGE}"),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut lines = [
        format!("{},3,3,0,1,3,2,0.6667", cast.first_partner),
        format!("{},2,0,1,0,0,0,", cast.second_partner),
    ];
    lines.sort();
    assert_eq!(
        response.text().await.unwrap(),
        format!(
            "partner_id,offers,accepted,declined,acceptance_rate,pickups,on_time_pickups,on_time_rate\r\n{}\r\n{}\r\n",
            lines[0], lines[1]
        )
    );
}
