use std::collections::HashMap;

use events::fulfilment::PickupScheduled;
use platform::auth::Role;
use platform::testing::eventually;
use serde_json::Value;
use system_tests::{OrderSide, Platform, SETTLE};
use uuid::Uuid;

const RACES: usize = 12;

/// A shopper's cancel and fulfilment's `PickupScheduled` arrive at the same moment, many
/// times over. Each order ends the way one of the two serial orders would leave it, and
/// its timeline, its version, the cancel's answer and what `order.events` carries agree.
#[tokio::test]
async fn a_cancel_racing_a_pickup_schedule_ends_as_if_they_ran_one_after_the_other() {
    let platform = Platform::start().await;
    let OrderSide {
        catalog,
        quote,
        order,
    } = platform.order_side().await;
    let shopper = platform.token("shopper-race", Role::Shopper);
    let device = platform.device(&catalog).await;
    let mut orders = Vec::new();
    for _ in 0..RACES {
        let issued = platform
            .quote_for(&quote, &shopper, device.variant_id, &device.best)
            .await;
        let id = platform
            .accepted_order(&order, &shopper, issued["id"].as_str().unwrap())
            .await;
        orders.push(id);
    }
    for id in &orders {
        platform.wait_for_status(&order, *id, "confirmed").await;
    }

    let partner_id = Uuid::new_v4();
    // Stagger the cancels across the event's typical delivery time, so some land before the
    // event and some after. The assertions hold for either order; the spread only makes
    // both orders happen.
    let races = orders.iter().enumerate().map(|(index, id)| {
        let platform = &platform;
        let order = &order;
        let shopper = &shopper;
        async move {
            let event = PickupScheduled {
                order_id: id.to_string(),
                job_id: Uuid::new_v4().to_string(),
                partner_id: partner_id.to_string(),
                slot_date: String::new(),
                slot_window: String::new(),
            };
            let stagger = std::time::Duration::from_millis(15 * index as u64);
            let (_, cancel) = tokio::join!(platform.publish_fulfilment(*id, 1, &event), async {
                tokio::time::sleep(stagger).await;
                platform
                    .http
                    .post(order.url(&format!("/v1/orders/{id}/cancel")))
                    .bearer_auth(shopper)
                    .send()
                    .await
            });
            let cancel = cancel.unwrap();
            assert_eq!(
                cancel.status(),
                200,
                "cancel is legal in both serial orders"
            );
            cancel.json::<Value>().await.unwrap()
        }
    });
    let cancels = futures_util::future::join_all(races).await;

    let scheduled_first = [
        "OrderPlaced",
        "OrderConfirmed",
        "OrderPickupScheduled",
        "OrderCancelled",
    ];
    let cancelled_first = ["OrderPlaced", "OrderConfirmed", "OrderCancelled"];
    let mut outcomes: HashMap<&str, usize> = HashMap::new();
    let mut expected_events = HashMap::new();
    for (id, cancel) in orders.iter().zip(&cancels) {
        // The event has been handled (applied or found not to apply) once the order's
        // consumer has recorded it.
        eventually(SETTLE, "the pickup event is handled", || async {
            let order = platform.order_json(&order, *id).await;
            order["status"] == "cancelled"
        })
        .await;
        let timeline = wait_for_handled(&platform, &order, *id).await;
        let events: Vec<&str> = timeline
            .iter()
            .map(|(_, _, event)| event.as_str())
            .collect();
        let seqs: Vec<i64> = timeline.iter().map(|(seq, _, _)| *seq).collect();
        assert_eq!(seqs, (1..=timeline.len() as i64).collect::<Vec<_>>());
        let final_json = platform.order_json(&order, *id).await;
        if events == scheduled_first {
            *outcomes.entry("pickup first").or_default() += 1;
            assert_eq!(cancel["version"], 4);
            assert_eq!(final_json["partner_id"], partner_id.to_string());
        } else {
            assert_eq!(events, cancelled_first, "order {id}");
            *outcomes.entry("cancel first").or_default() += 1;
            assert_eq!(cancel["version"], 3);
            assert!(final_json["partner_id"].is_null());
        }
        assert_eq!(cancel["status"], "cancelled");
        assert_eq!(final_json["version"], timeline.len() as i64);
        expected_events.insert(
            id.to_string(),
            events
                .iter()
                .map(|e| format!("order.{e}"))
                .collect::<Vec<_>>(),
        );
    }
    eprintln!("race outcomes: {outcomes:?}");

    // Downstream sees exactly the timeline, in order.
    let total: usize = expected_events.values().map(Vec::len).sum();
    let read = platform
        .read_topic(events::topics::ORDER_EVENTS, |read| read.len() >= total)
        .await;
    let mut published = system_tests::events_by_aggregate(&read);
    for (id, expected) in expected_events {
        let mut events = published.remove(&id).unwrap();
        events.sort();
        let types: Vec<String> = events.into_iter().map(|(_, event)| event).collect();
        assert_eq!(types, expected, "order {id}");
    }
}

/// The timeline once the racing `PickupScheduled` has been consumed by the order service
/// (it either added a step or was ignored; both are recorded as processed).
async fn wait_for_handled(
    platform: &Platform,
    order: &system_tests::Service,
    id: Uuid,
) -> Vec<(i64, String, String)> {
    let sql = format!(
        "SELECT COUNT(*) FROM aggregate_progress WHERE aggregate_id = '{id}' AND last_seq >= 1"
    );
    eventually(SETTLE, "the order consumer recorded the event", || async {
        system_tests::query_count(&order.database_url, &sql).await == 1
    })
    .await;
    platform.timeline(order, id).await
}
