use std::collections::HashMap;

use platform::auth::Role;
use platform::testing::eventually;
use system_tests::{OrderOptions, Platform, SETTLE};
use uuid::Uuid;

/// Quote, the broker and every consumer of `order.events` (fulfilment's part) are down
/// while 100 orders arrive. All are accepted; their quotes run out during the outage; once
/// everything is back, each is confirmed exactly once (the quotes were valid when the
/// orders were accepted, which is what counts).
#[tokio::test]
async fn a_hundred_orders_placed_while_quote_and_the_broker_are_down_are_all_confirmed_once_they_return_though_their_quotes_expired_meanwhile()
 {
    let started = std::time::Instant::now();
    // Where the time goes, shown if the test fails or times out.
    let phase = |name: &str| eprintln!("[{:>6.1}s] {name}", started.elapsed().as_secs_f64());
    let platform = Platform::start().await;
    let catalog = platform.catalog().await;
    let quote_db = platform::testing::fresh_database("sys_quote").await;
    let quote = platform.quote(0, &quote_db, &catalog).await;
    let shopper = platform.token("shopper-outage", Role::Shopper);
    let device = platform.device(&catalog).await;
    let mut quotes = Vec::new();
    for _ in 0..100 {
        let issued = platform
            .quote_for(&quote, &shopper, device.variant_id, &device.best)
            .await;
        quotes.push(issued["id"].as_str().unwrap().to_owned());
    }

    phase("100 quotes issued");
    // Everything behind the order service goes down.
    quote.stop().await;
    // Hold quote's port while it is down, so no other test's server can take it (ports are
    // handed out by the OS) and the restart gets its address back.
    let placeholder = std::net::TcpListener::bind(("127.0.0.1", quote.port))
        .expect("quote's port is free right after it stopped");
    let embedded = platform.broker.embedded();
    if let Some(broker) = embedded {
        broker.down().unwrap();
    }
    phase("quote stopped, broker down");
    let order_db = platform::testing::fresh_database("sys_order").await;
    let order = platform
        .order(
            &order_db,
            OrderOptions {
                quote_url: quote.address.clone(),
            },
        )
        .await;

    let mut orders = HashMap::new();
    for quote_id in &quotes {
        let id = platform.accepted_order(&order, &shopper, quote_id).await;
        orders.insert(id, quote_id.clone());
    }
    assert_eq!(orders.len(), 100);
    phase("100 orders accepted");
    // The outage is real to the processor before anything comes back. (Any order will do:
    // it tries four at a time and each waits out quote's timeout, so reaching one chosen at
    // random can take most of a minute.)
    eventually(
        SETTLE,
        "the processor has tried an order and postponed it",
        || async {
            system_tests::query_count(
                &order_db,
                "SELECT COUNT(*) FROM orders WHERE status = 'received' AND attempts >= 1",
            )
            .await
                >= 1
        },
    )
    .await;
    phase("the processor has met the outage");
    expire_every_quote(&quote_db).await;

    // Everything comes back: the broker, then quote on its old address.
    if let Some(broker) = embedded {
        broker.up().unwrap();
    }
    drop(placeholder);
    let _quote = platform.quote(quote.port, &quote_db, &catalog).await;
    phase("broker up, quote restarted");

    for (id, quote_id) in &orders {
        let confirmed = platform.wait_for_status(&order, *id, "confirmed").await;
        assert_eq!(confirmed["quote_id"], quote_id.as_str());
        let steps: Vec<String> = platform
            .timeline(&order, *id)
            .await
            .into_iter()
            .map(|(_, _, event)| event)
            .collect();
        assert_eq!(steps, ["OrderPlaced", "OrderConfirmed"], "order {id}");
    }

    phase("100 orders confirmed");
    // What fulfilment will read once it is back: one OrderConfirmed per order, no more.
    let confirmations = |read: &[events::Envelope]| {
        read.iter()
            .filter(|envelope| envelope.event_type == "order.OrderConfirmed")
            .count()
    };
    let read = platform
        .read_topic(events::topics::ORDER_EVENTS, |read| {
            confirmations(read) >= 100
        })
        .await;
    let mut per_order: HashMap<String, usize> = HashMap::new();
    for envelope in read
        .iter()
        .filter(|envelope| envelope.event_type == "order.OrderConfirmed")
    {
        *per_order.entry(envelope.aggregate_id.clone()).or_default() += 1;
        assert_eq!(envelope.aggregate_seq, 2);
    }
    assert_eq!(per_order.len(), 100);
    assert!(per_order.values().all(|count| *count == 1), "{per_order:?}");
    assert!(
        per_order
            .keys()
            .all(|id| orders.contains_key(&Uuid::parse_str(id).unwrap()))
    );
}

/// Every quote's validity runs out now, as if the outage had outlasted it.
async fn expire_every_quote(quote_db: &str) {
    use sea_orm::sea_query::{Alias, Query};
    use sea_orm::{ConnectionTrait, Database};
    let db = Database::connect(quote_db).await.unwrap();
    let update = Query::update()
        .table(Alias::new("quotes"))
        .value(Alias::new("expires_at"), chrono::Utc::now())
        .to_owned();
    let expired = db.execute(&update).await.unwrap().rows_affected();
    assert_eq!(expired, 100);
    db.close().await.ok();
}
