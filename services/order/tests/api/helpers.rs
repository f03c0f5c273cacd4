use order::configuration::Settings;
use order::startup::Order;
use platform::auth::Role;
use platform::config::ServiceSettings;
use reqwest::Response;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

pub const PROBLEM_JSON: &str = "application/problem+json";
pub const JWT_SECRET: &str = platform::testing::TEST_JWT_SECRET;

#[derive(Debug, Clone)]
pub struct TestOptions {
    /// `bootstrap.servers` of a broker: the relay and the consumer run.
    pub kafka: Option<String>,
    /// Where quote is supposed to be; by default a port nobody listens on (quote is down).
    pub quote_url: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub retry_max_ms: u64,
    /// The database to use instead of a fresh one (a restart, or a proxy in front of it).
    pub database_url: Option<String>,
    /// Redis to use instead of the suite's shared one.
    pub redis_url: Option<String>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            kafka: None,
            quote_url: None,
            max_body_bytes: None,
            retry_max_ms: 500,
            database_url: None,
            redis_url: None,
        }
    }
}

pub struct TestApp {
    /// Declared first: dropped (killed) before the broker and the rest.
    pub service: platform::testing::SpawnedService,
    pub db: DatabaseConnection,
    pub admin_token: String,
    pub shopper_token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    platform::telemetry::init_for_tests();
    let database_url = match &options.database_url {
        Some(url) => url.clone(),
        None => platform::testing::fresh_database("order").await,
    };
    let quote_url = options
        .quote_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", platform::testing::free_port()));
    let mut layers = platform::testing::test_layers(&Order, &database_url)
        .set(
            "redis.url",
            options
                .redis_url
                .clone()
                .unwrap_or_else(platform::testing::shared_redis_url),
        )
        .unwrap()
        .set("order.quote_url", quote_url)
        .unwrap()
        .set("order.quote_timeout_ms", 1_000)
        .unwrap()
        .set("order.stuck_check_seconds", 1)
        .unwrap()
        .set("order.processor.retry_initial_ms", 50)
        .unwrap()
        .set("order.processor.retry_max_ms", options.retry_max_ms)
        .unwrap();
    if let Some(brokers) = &options.kafka {
        layers = layers
            .set("kafka.brokers", brokers.clone())
            .unwrap()
            .set("outbox.poll_interval_ms", 10)
            .unwrap();
    }
    if let Some(limit) = options.max_body_bytes {
        layers = layers.set("http.max_body_bytes", limit as u64).unwrap();
    }
    let settings = Settings::from_layers(&layers).expect("test settings are valid");
    let db = platform::db::connect(&settings.base.database)
        .await
        .unwrap();
    let service = platform::testing::spawn_service(&Order, &layers).await;
    TestApp {
        db,
        admin_token: service.token_for("admin-1", Role::Admin),
        shopper_token: service.token_for("shopper-1", Role::Shopper),
        service,
    }
}

/// A valid order body for `quote_id`.
pub fn order_body(quote_id: Uuid) -> Value {
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    json!({
        "quote_id": quote_id,
        "pickup": {
            "address": "12 MG Road, Bengaluru",
            "pincode": "560001",
            "slot": {"date": tomorrow.to_string(), "window": "morning"}
        },
        "payout": {"method": "upi", "details": {"vpa": "asha@okbank"}}
    })
}

platform::service_under_test!(TestApp);

impl TestApp {
    pub async fn place_order_as(&self, token: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/v1/orders"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn place_order(&self, key: &str, body: &Value) -> Response {
        self.place_order_as(&self.shopper_token, key, body).await
    }

    /// Places an order that must be accepted; returns its id.
    pub async fn accepted_order(&self) -> Uuid {
        let response = self
            .place_order(&Uuid::new_v4().to_string(), &order_body(Uuid::new_v4()))
            .await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn post_as(&self, token: &str, path: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A GET as the admin that must answer 200.
    pub async fn admin_json(&self, path: &str) -> Value {
        let response = self.get_as(&self.admin_token, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }
}

pub use platform::testing::assert_problem;
