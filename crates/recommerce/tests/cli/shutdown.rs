//! SIGTERM is how every orchestrator stops a pod, often in the middle of traffic. The order
//! service must answer every request it already took, keep every order it answered 202 for,
//! and lose no event: what it has not published waits in the outbox for the next instance.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;
use system_tests::{JWT_SECRET, Platform, SETTLE, order_body};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::helpers::{Running, recommerce, wait_until_ready};

const ORDERS: usize = 200;
/// SIGTERM goes out once this many answers are back, so the rest are in flight or queued.
const ANSWERED_BEFORE_SIGTERM: usize = 20;
const GRACE_SECONDS: u64 = 10;

fn order_service(platform: &Platform, port: u16, database_url: &str, quote_url: &str) -> Running {
    let child = recommerce()
        .args(["serve", "order"])
        .env("APP_PROFILE", "test")
        .env("APP_AUTH__JWT_SECRET", JWT_SECRET)
        .env("APP_HTTP__PORT", port.to_string())
        .env("APP_HTTP__WORKERS", "2")
        // 200 orders at once on a debug build stay past the sustained mark for longer than
        // its grace; refusing them is not what this test is about.
        .env("APP_HTTP__SUSTAINED_IN_FLIGHT", "0")
        .env(
            "APP_HTTP__SHUTDOWN_GRACE_SECONDS",
            GRACE_SECONDS.to_string(),
        )
        .env("APP_DATABASE__URL", database_url)
        .env("APP_REDIS__URL", platform::testing::shared_redis_url())
        .env(
            "APP_REDIS__KEY_PREFIX",
            format!("sigterm-{}:", Uuid::new_v4().simple()),
        )
        .env("APP_KAFKA__BROKERS", &platform.broker.brokers)
        .env("APP_OUTBOX__POLL_INTERVAL_MS", "10")
        .env("APP_ORDER__QUOTE_URL", quote_url)
        .env("APP_TELEMETRY__LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Running(child)
}

/// What one request of the burst came back with.
#[derive(Debug)]
enum Outcome {
    Answered(u16, Value),
    /// No connection: the request never reached the service.
    Refused,
    /// Connected but no answer: only acceptable if the service never took the request.
    Dropped(String),
}

async fn place(
    client: &reqwest::Client,
    url: &str,
    shopper: &str,
    key: &str,
    quote_id: &str,
) -> Outcome {
    let sent = client
        .post(url)
        .bearer_auth(shopper)
        .header("Idempotency-Key", key)
        .json(&order_body(quote_id))
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            Outcome::Answered(status, response.json().await.unwrap_or(Value::Null))
        }
        Err(error) if error.is_connect() => Outcome::Refused,
        Err(error) => Outcome::Dropped(format!("{error:?}")),
    }
}

async fn idempotency_keys(database_url: &str) -> Vec<String> {
    let db = Database::connect(database_url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT key FROM idempotency_keys",
        ))
        .await
        .unwrap();
    db.close().await.unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "key").unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_burst_of_orders_fails_no_request_and_loses_no_order() {
    let platform = Platform::start().await;
    let catalog = platform.catalog().await;
    let quote_db = platform::testing::fresh_database("sigterm_quote").await;
    let quote = platform.quote(0, &quote_db, &catalog).await;
    let device = platform.device(&catalog).await;
    // A sale-day burst: many shoppers, one order each (one shopper would meet its own
    // rate limit, which is not what this test is about).
    let mut quotes = Vec::new();
    for _ in 0..ORDERS {
        let shopper = platform.token(&Uuid::new_v4().to_string(), platform::auth::Role::Shopper);
        let issued = platform
            .quote_for(&quote, &shopper, device.variant_id, &device.best)
            .await;
        quotes.push((shopper, issued["id"].as_str().unwrap().to_owned()));
    }

    let order_db = platform::testing::fresh_database("sigterm_order").await;
    let port = platform::testing::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = order_service(&platform, port, &order_db, &quote.address);
    wait_until_ready(&format!("{base}/health/ready")).await;

    // Every request on its own connection: a keep-alive connection closed by the server
    // between two requests is a client-side retry matter, not what this test is about.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let enough_answered = Arc::new(Notify::new());
    let keys: Vec<String> = (0..ORDERS).map(|_| Uuid::new_v4().to_string()).collect();
    let burst: Vec<_> = keys
        .iter()
        .zip(&quotes)
        .map(|(key, (shopper, quote_id))| {
            let (client, url, shopper) =
                (client.clone(), format!("{base}/v1/orders"), shopper.clone());
            let (key, quote_id) = (key.clone(), quote_id.clone());
            let (answered, enough_answered) = (answered.clone(), enough_answered.clone());
            tokio::spawn(async move {
                let outcome = place(&client, &url, &shopper, &key, &quote_id).await;
                if answered.fetch_add(1, Ordering::SeqCst) + 1 == ANSWERED_BEFORE_SIGTERM {
                    enough_answered.notify_one();
                }
                (key, quote_id, outcome)
            })
        })
        .collect();
    enough_answered.notified().await;
    first.signal("TERM");
    let mut outcomes = Vec::new();
    for request in burst {
        outcomes.push(request.await.unwrap());
    }
    let status = first
        .exited_within(Duration::from_secs(GRACE_SECONDS * 2 + 10))
        .await;
    assert!(status.success(), "the order service exited with {status}");

    let mut accepted: BTreeMap<String, String> = BTreeMap::new();
    let mut unanswered = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (key, quote_id, outcome) in &outcomes {
        match outcome {
            Outcome::Answered(202, body) => {
                *counts.entry("202").or_default() += 1;
                accepted.insert(key.clone(), body["id"].as_str().unwrap().to_owned());
            }
            Outcome::Answered(status, body) => panic!("an in-flight request got {status}: {body}"),
            Outcome::Refused => {
                *counts.entry("refused").or_default() += 1;
                unanswered.push((key.clone(), quote_id.clone()));
            }
            Outcome::Dropped(error) => {
                *counts.entry("dropped").or_default() += 1;
                unanswered.push((key.clone(), quote_id.clone()));
                eprintln!("no answer: {error}");
            }
        }
    }
    eprintln!("burst outcomes: {counts:?}");
    assert!(accepted.len() >= ANSWERED_BEFORE_SIGTERM);
    // A request without an answer must not have been taken: nothing half-done behind it.
    let stored = idempotency_keys(&order_db).await;
    assert_eq!(
        stored.len(),
        accepted.len(),
        "orders stored vs 202s answered"
    );
    for (key, _) in &unanswered {
        assert!(
            !stored.contains(key),
            "request {key} was taken but not answered"
        );
    }

    // The next instance: the shopper retries what got no answer, with the same keys.
    let second = order_service(&platform, port, &order_db, &quote.address);
    wait_until_ready(&format!("{base}/health/ready")).await;
    let owners: HashMap<&str, &str> = quotes
        .iter()
        .map(|(shopper, quote_id)| (quote_id.as_str(), shopper.as_str()))
        .collect();
    for (key, quote_id) in &unanswered {
        match place(
            &client,
            &format!("{base}/v1/orders"),
            owners[quote_id.as_str()],
            key,
            quote_id,
        )
        .await
        {
            Outcome::Answered(202, body) => {
                accepted.insert(key.clone(), body["id"].as_str().unwrap().to_owned());
            }
            other => panic!("the retry of {key} got {other:?}"),
        }
    }
    assert_eq!(accepted.len(), ORDERS);

    for id in accepted.values() {
        let url = format!("{base}/v1/admin/orders/{id}");
        let what = format!("order {id} is confirmed");
        platform::testing::eventually(SETTLE, &what, || async {
            let response = platform
                .http
                .get(&url)
                .bearer_auth(&platform.admin_token)
                .send()
                .await;
            match response {
                Ok(response) if response.status() == 200 => {
                    response.json::<Value>().await.unwrap()["status"] == "confirmed"
                }
                _ => false,
            }
        })
        .await;
    }

    // Downstream sees each order placed once and confirmed once, in sequence.
    let wanted = ORDERS * 2;
    let read = platform
        .read_topic(events::topics::ORDER_EVENTS, |read| read.len() >= wanted)
        .await;
    let mut per_order: HashMap<&str, Vec<(u64, &str)>> = HashMap::new();
    for envelope in &read {
        per_order
            .entry(envelope.aggregate_id.as_str())
            .or_default()
            .push((envelope.aggregate_seq, envelope.event_type.as_str()));
    }
    assert_eq!(per_order.len(), ORDERS);
    for id in accepted.values() {
        let mut events = per_order.remove(id.as_str()).unwrap_or_default();
        events.sort();
        assert_eq!(
            events,
            [(1, "order.OrderPlaced"), (2, "order.OrderConfirmed")],
            "order {id}"
        );
    }
    drop(second);
}
