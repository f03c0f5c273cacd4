//! Multi-instance safety: a second instance of order and of fulfilment, on the same
//! databases, Redis and broker, must make the pair behave as one service. Each instance runs
//! its own HTTP server, processor, consumers and outbox relay, so every path that could
//! double an effect or reorder an order's steps runs twice.

use std::collections::BTreeSet;

use futures_util::{StreamExt, stream};
use platform::auth::Role;
use platform::testing::eventually;
use serde_json::Value;
use system_tests::{Marketplace, OrderOptions, SETTLE, Service, query_count};
use uuid::Uuid;

const ORDERS: usize = 300;
/// Requests in flight at once; enough to interleave both instances, few enough for 2 cores.
const CONCURRENCY: usize = 16;

/// Every order is placed on both order instances at once with one idempotency key, its
/// events are consumed by whichever fulfilment instance owns the partition, and a logistics
/// partner accepts the jobs. Each order ends with one order row, one pickup job, and the
/// three steps of its timeline exactly once, in order, as `order.events` carries them.
///
/// Slow by design: 300 orders through seven service instances on two cores take 25–30 s
/// on a quiet machine and up to about 70 s while other suites run beside it, which is why
/// it may pass the minute that no other test may (nextest gives system scenarios 180 s).
#[tokio::test]
async fn two_instances_of_order_and_fulfilment_take_300_orders_to_pickup_as_one_would() {
    let market = Marketplace::start().await;
    let platform = &market.platform;
    let second_order = platform
        .order(
            &market.order.database_url,
            OrderOptions {
                quote_url: market.quote.address.clone(),
            },
        )
        .await;
    let second_fulfilment = platform
        .fulfilment(0, &market.fulfilment.database_url, &market.quote)
        .await;
    let order_instances = [&market.order, &second_order];
    let partner = market
        .partner_with_capacity("Twin Logistics", "logistics", &["560001"], 1000)
        .await;
    let shopper = platform.token("shopper-twins", Role::Shopper);
    let device = platform.device(&market.catalog).await;

    let quotes: Vec<String> = stream::iter(0..ORDERS)
        .map(|_| async {
            let issued = platform
                .quote_for(&market.quote, &shopper, device.variant_id, &device.best)
                .await;
            issued["id"].as_str().unwrap().to_owned()
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let ids: Vec<Uuid> = stream::iter(quotes.iter())
        .map(|quote_id| async {
            let key = Uuid::new_v4().to_string();
            let (first, second) = tokio::join!(
                platform.place_order(order_instances[0], &shopper, &key, quote_id),
                platform.place_order(order_instances[1], &shopper, &key, quote_id),
            );
            let mut answered = Vec::new();
            for response in [first, second] {
                assert_eq!(response.status(), 202, "{:?}", response.text().await);
                let body: Value = response.json().await.unwrap();
                answered.push(body["id"].as_str().unwrap().parse::<Uuid>().unwrap());
            }
            assert_eq!(
                answered[0], answered[1],
                "one key, one order, on either instance"
            );
            answered[0]
        })
        .buffer_unordered(CONCURRENCY / 2)
        .collect()
        .await;
    let distinct: BTreeSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ORDERS);

    accept_every_pickup(&market, &partner, &distinct).await;

    for (index, id) in ids.iter().enumerate() {
        let instance = order_instances[index % 2];
        platform
            .wait_for_status(instance, *id, "pickup_scheduled")
            .await;
    }

    let expected = [
        (1, "OrderPlaced"),
        (2, "OrderConfirmed"),
        (3, "OrderPickupScheduled"),
    ];
    for (index, id) in ids.iter().enumerate() {
        let timeline = platform
            .timeline(order_instances[(index + 1) % 2], *id)
            .await;
        let steps: Vec<(i64, &str)> = timeline
            .iter()
            .map(|(seq, _, event)| (*seq, event.as_str()))
            .collect();
        assert_eq!(steps, expected, "order {id}");
        let order = platform.order_json(order_instances[index % 2], *id).await;
        assert_eq!(order["version"], 3, "order {id}: {order}");
        assert_eq!(order["partner_id"], partner.id.to_string(), "order {id}");
    }

    assert_eq!(
        query_count(&market.order.database_url, "SELECT COUNT(*) FROM orders").await,
        ORDERS as i64
    );
    assert_eq!(
        query_count(
            &market.fulfilment.database_url,
            "SELECT COUNT(*) FROM trade_ins"
        )
        .await,
        ORDERS as i64
    );
    assert_eq!(
        query_count(
            &market.fulfilment.database_url,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'pickup'"
        )
        .await,
        ORDERS as i64,
        "one pickup job per order"
    );
    assert_eq!(
        query_count(
            &market.fulfilment.database_url,
            "SELECT COUNT(DISTINCT order_id) FROM jobs WHERE kind = 'pickup'"
        )
        .await,
        ORDERS as i64
    );

    for instance in [&market.fulfilment, &second_fulfilment] {
        assert!(
            events_consumed(platform, instance).await > 0.0,
            "both fulfilment instances share the work ({})",
            instance.address
        );
    }

    // Downstream sees each order's steps once, in sequence, whichever instance sent them.
    let read = platform
        .read_topic(events::topics::ORDER_EVENTS, |read| {
            read.len() >= ORDERS * expected.len()
        })
        .await;
    let mut published = system_tests::events_by_aggregate(&read);
    assert_eq!(published.len(), ORDERS);
    let expected_published: Vec<(u64, String)> = expected
        .iter()
        .map(|(seq, event)| (*seq as u64, format!("order.{event}")))
        .collect();
    for id in &ids {
        let events = published.remove(&id.to_string()).unwrap();
        assert_eq!(events, expected_published, "order {id}, in the order read");
    }
    // Every instance stops as an orchestrator would stop it, within its grace period (a
    // stop that overruns fails the test), before the broker goes.
    for service in [
        &second_order,
        &second_fulfilment,
        &market.order,
        &market.fulfilment,
        &market.portal,
        &market.quote,
        &market.catalog,
    ] {
        service.stop().await;
    }
}

/// The partner accepts every pickup job offered to it, through the portal, until it has
/// accepted one for each of `orders`. A job is accepted once: a second accept would be an
/// illegal transition, and any refusal fails the test.
async fn accept_every_pickup(
    market: &Marketplace,
    partner: &system_tests::Partner,
    orders: &BTreeSet<Uuid>,
) {
    let platform = &market.platform;
    let accepted = &std::sync::Mutex::new(BTreeSet::<Uuid>::new());
    let what = format!("the partner accepts {} pickups", orders.len());
    eventually(SETTLE * 4, &what, || async {
        let offered = platform
            .get(
                &market.portal,
                "/v1/portal/jobs?status=offered&kind=pickup&per_page=100",
                Some(&partner.token),
            )
            .await;
        let fresh: Vec<Value> = offered["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|job| {
                let order_id: Uuid = job["order_id"].as_str().unwrap().parse().unwrap();
                assert!(
                    orders.contains(&order_id),
                    "a job for an unknown order: {job}"
                );
                !accepted.lock().unwrap().contains(&order_id)
            })
            .cloned()
            .collect();
        stream::iter(fresh)
            .for_each_concurrent(CONCURRENCY, |job| async move {
                market
                    .acts(partner, &job, "accept", serde_json::json!({}))
                    .await;
                let order_id = job["order_id"].as_str().unwrap().parse().unwrap();
                assert!(
                    accepted.lock().unwrap().insert(order_id),
                    "order {order_id} had two pickup jobs offered"
                );
            })
            .await;
        accepted.lock().unwrap().len() == orders.len()
    })
    .await;
}

/// What an instance's consumers have finished, by its own `/metrics`.
async fn events_consumed(platform: &system_tests::Platform, instance: &Service) -> f64 {
    let metrics = platform
        .http
        .get(instance.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .filter(|line| line.contains("consumer_events_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
