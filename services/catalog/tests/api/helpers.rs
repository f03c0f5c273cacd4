use catalog::startup::Catalog;
use platform::auth::Role;
use reqwest::RequestBuilder;
use serde_json::Value;
use uuid::Uuid;

/// Which database the suite runs against: `TEST_DATABASE=postgres` (default) or `sqlite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn from_env() -> Self {
        if platform::testing::uses_sqlite() {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestOptions {
    pub seed: bool,
    pub redis: bool,
    /// The Redis to use instead of the suite's shared one.
    pub redis_url: Option<String>,
    /// Reuse another app's database and Redis namespace: a second instance of one deployment.
    pub share_with: Option<(String, String)>,
    pub max_body_bytes: Option<usize>,
    /// `bootstrap.servers` of a broker: the outbox relay runs.
    pub kafka: Option<String>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            seed: false,
            redis: true,
            redis_url: None,
            share_with: None,
            max_body_bytes: None,
            kafka: None,
        }
    }
}

pub struct TestApp {
    /// Declared first: dropped (killed) before the broker and the rest.
    pub service: platform::testing::SpawnedService,
    pub database_url: String,
    pub redis_prefix: String,
    pub jwt_secret: String,
    pub admin_token: String,
    pub shopper_token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_seeded_app() -> TestApp {
    spawn_app_with(TestOptions {
        seed: true,
        ..TestOptions::default()
    })
    .await
}

fn redis_url() -> String {
    platform::testing::shared_redis_url()
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    platform::telemetry::init_for_tests();
    let (database_url, redis_prefix) = match options.share_with.clone() {
        Some(shared) => shared,
        None => (
            platform::testing::fresh_database("catalog").await,
            format!("test-{}", Uuid::new_v4().simple()),
        ),
    };
    let mut layers = platform::testing::test_layers(&Catalog, &database_url)
        .set("http.workers", 1)
        .unwrap()
        .set("database.max_connections", 5)
        .unwrap()
        .set("redis.key_prefix", redis_prefix.clone())
        .unwrap()
        .set("catalog.seed_on_start", options.seed)
        .unwrap();
    if options.redis {
        let url = options.redis_url.clone().unwrap_or_else(redis_url);
        layers = layers.set("redis.url", url).unwrap();
    }
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
    let service = platform::testing::spawn_service(&Catalog, &layers).await;
    TestApp {
        database_url,
        redis_prefix,
        jwt_secret: platform::testing::TEST_JWT_SECRET.to_owned(),
        admin_token: service.token_for("admin-1", Role::Admin),
        shopper_token: service.token_for("shopper-1", Role::Shopper),
        service,
    }
}

platform::service_under_test!(TestApp);

impl TestApp {
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token)
    }

    /// Sharing this app's database and Redis namespace, for a second instance.
    pub fn shared(&self) -> Option<(String, String)> {
        Some((self.database_url.clone(), self.redis_prefix.clone()))
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// An admin GET that must answer 200, as JSON.
    pub async fn admin_get(&self, path: &str) -> Value {
        let response = self.admin(reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Creates a model with one variant through the admin API and returns its JSON.
    pub async fn create_model(&self, brand: &str, name: &str, category: &str, price: i64) -> Value {
        let response = self
            .admin(reqwest::Method::POST, "/v1/admin/catalog/models")
            .json(&serde_json::json!({
                "brand": brand,
                "name": name,
                "category": category,
                "release_year": 2023,
                "variants": [{"name": "128 GB", "base_price": {"amount_minor": price, "currency": "INR"}}]
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        response.json().await.unwrap()
    }

    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Cache keys this app has written for browse responses.
    pub async fn cached_keys(&self) -> Vec<String> {
        let mut connection = self.redis().await;
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:catalog:g*", self.redis_prefix))
            .query_async(&mut connection)
            .await
            .unwrap();
        keys.sort();
        keys
    }
}

pub use platform::testing::assert_problem;

/// The seed file, for expectations that must follow the data.
pub fn seed_file() -> Value {
    serde_json::from_str(include_str!("../../seed/catalog.json")).unwrap()
}
