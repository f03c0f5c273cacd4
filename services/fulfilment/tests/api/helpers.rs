use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use events::{Envelope, Event};
use fulfilment::startup::Fulfilment;
use platform::auth::Role;
use platform::testing::{TestBroker, eventually};
use reqwest::Response;
use serde_json::{Value, json};
use uuid::Uuid;

pub const JWT_SECRET: &str = platform::testing::TEST_JWT_SECRET;
pub const SETTLE: Duration = Duration::from_secs(30);

pub struct TestApp {
    /// Declared first: dropped (killed) before the broker and the rest.
    pub service: platform::testing::SpawnedService,
    pub broker: TestBroker,
    pub database_url: String,
    pub admin_token: String,
    seqs: Mutex<HashMap<(String, Uuid), u64>>,
}

pub struct Options {
    pub acceptance_window_seconds: u64,
    /// Where quote answers; `None`: nobody (quote is down).
    pub quote_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            acceptance_window_seconds: 3600,
            quote_url: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    platform::telemetry::init_for_tests();
    let broker = TestBroker::start();
    broker.create_topics(&events::topics::ALL, 2).await;
    let database_url = platform::testing::fresh_database("fulfilment").await;
    let layers = platform::testing::test_layers(&Fulfilment, &database_url)
        .set("redis.url", platform::testing::shared_redis_url())
        .unwrap()
        .set("kafka.brokers", broker.brokers.clone())
        .unwrap()
        .set("outbox.poll_interval_ms", 10)
        .unwrap()
        // Unless a test stands in for quote, nobody listens here: quote is down.
        .set(
            "fulfilment.quote_url",
            options
                .quote_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{}", platform::testing::free_port())),
        )
        .unwrap()
        .set("fulfilment.quote_timeout_ms", 200)
        .unwrap()
        .set("fulfilment.requote.retry_initial_ms", 50)
        .unwrap()
        .set("fulfilment.requote.retry_max_ms", 200)
        .unwrap()
        .set(
            "fulfilment.acceptance_window_seconds",
            options.acceptance_window_seconds,
        )
        .unwrap()
        .set("fulfilment.sweep_interval_ms", 100)
        .unwrap()
        .set("fulfilment.jobs_reading_seconds", 1)
        .unwrap();
    let service = platform::testing::spawn_service(&Fulfilment, &layers).await;
    TestApp {
        admin_token: service.token_for("admin-1", Role::Admin),
        service,
        broker,
        database_url,
        seqs: Mutex::new(HashMap::new()),
    }
}

pub fn tomorrow() -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).to_string()
}

platform::service_under_test!(TestApp);

impl TestApp {
    pub async fn admin_json(&self, path: &str) -> Value {
        let response = self.get_as(&self.admin_token, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn post_json(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers a partner (201) and returns its id.
    pub async fn partner(&self, kind: &str, pincodes: &[&str], capacity: i64) -> Uuid {
        let body = json!({
            "name": format!("{kind} {}", Uuid::new_v4().simple()),
            "kind": kind,
            "pincodes": pincodes,
            "daily_capacity": capacity,
        });
        let response = self
            .post_json(&self.admin_token, "/v1/admin/partners", &body)
            .await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let partner: Value = response.json().await.unwrap();
        partner["id"].as_str().unwrap().parse().unwrap()
    }

    /// Publishes `event` as `producer` would, with that producer's next seq for the order.
    pub async fn says<E: Event>(&self, producer: &str, order_id: Uuid, event: &E) {
        let seq = {
            let mut seqs = self.seqs.lock().unwrap();
            let seq = seqs.entry((producer.to_owned(), order_id)).or_insert(0);
            *seq += 1;
            *seq
        };
        self.broker
            .publish(producer, &order_id.to_string(), seq, event)
            .await;
    }

    /// The order service places and confirms an order for pickup at `pincode` tomorrow.
    pub async fn confirmed_order(&self, pincode: &str) -> Uuid {
        let order_id = Uuid::now_v7();
        let pickup = events::order::PickupDetails {
            address: "12 MG Road".into(),
            pincode: pincode.into(),
            slot_date: tomorrow(),
            slot_window: "morning".into(),
        };
        self.says(
            "order",
            order_id,
            &events::order::OrderPlaced {
                order_id: order_id.to_string(),
                shopper_id: "shopper-1".into(),
                quote_id: Uuid::new_v4().to_string(),
                pickup: Some(pickup.clone()),
            },
        )
        .await;
        self.says(
            "order",
            order_id,
            &events::order::OrderConfirmed {
                order_id: order_id.to_string(),
                shopper_id: "shopper-1".into(),
                quote_id: Uuid::new_v4().to_string(),
                variant_id: Uuid::new_v4().to_string(),
                quoted_price: Some(events::order::Money {
                    amount_minor: 1_000_000,
                    currency: "INR".into(),
                }),
                pickup: Some(pickup),
            },
        )
        .await;
        order_id
    }

    pub async fn jobs_of(&self, order_id: Uuid) -> Vec<Value> {
        let list = self
            .admin_json(&format!("/v1/admin/jobs?order_id={order_id}"))
            .await;
        list["items"].as_array().unwrap().clone()
    }

    /// Waits until the order has a `kind` job for which `holds` is true, and returns it.
    pub async fn wait_for_job(
        &self,
        order_id: Uuid,
        kind: &str,
        what: &str,
        holds: impl Fn(&Value) -> bool,
    ) -> Value {
        let find = |jobs: Vec<Value>| {
            jobs.into_iter()
                .find(|job| job["kind"] == kind && holds(job))
        };
        eventually(SETTLE, what, || async {
            find(self.jobs_of(order_id).await).is_some()
        })
        .await;
        find(self.jobs_of(order_id).await).unwrap()
    }

    /// A partner event about `job`, as the portal publishes it.
    pub async fn partner_says<E: Event>(&self, job: &Value, event: &E) {
        let order_id = job["order_id"].as_str().unwrap().parse().unwrap();
        self.says("partner-portal", order_id, event).await;
    }

    /// Everything fulfilment published for `order_id`, read until `enough`.
    pub async fn published(
        &self,
        order_id: Uuid,
        enough: impl Fn(&[Envelope]) -> bool,
    ) -> Vec<Envelope> {
        let order = order_id.to_string();
        self.broker
            .read(
                events::topics::FULFILMENT_EVENTS,
                |envelope| envelope.aggregate_id == order,
                enough,
                SETTLE,
            )
            .await
    }
}

pub fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}
