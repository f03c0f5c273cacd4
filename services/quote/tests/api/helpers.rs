use std::collections::HashMap;

use platform::auth::Role;
use quote_service::startup::Quote;
use reqwest::{Method, RequestBuilder, Response};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use uuid::Uuid;

pub const JWT_SECRET: &str = platform::testing::TEST_JWT_SECRET;
pub const SHOPPER: &str = "shopper-1";
pub const OTHER_SHOPPER: &str = "shopper-2";
/// The base price of the standard test phone: ₹50,000.
pub const BASE_PRICE: i64 = 5_000_000;

#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Where the catalog is; `None` = a port nothing listens on (catalog down).
    pub catalog_url: Option<String>,
    /// `bootstrap.servers` of a broker: the relay and the catalog.events consumer run.
    pub kafka: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub floor_price_minor: Option<i64>,
    pub redis: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            catalog_url: None,
            kafka: None,
            max_body_bytes: None,
            floor_price_minor: None,
            redis: true,
        }
    }
}

pub struct TestApp {
    /// Declared first: dropped (killed) before the broker and the rest.
    pub service: platform::testing::SpawnedService,
    pub db: DatabaseConnection,
    pub shopper_token: String,
    pub other_shopper_token: String,
    pub admin_token: String,
    pub service_token: String,
}

/// A URL where nothing answers: the catalog is down.
pub fn unreachable_url() -> String {
    format!("http://127.0.0.1:{}", platform::testing::free_port())
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    platform::telemetry::init_for_tests();
    let database_url = platform::testing::fresh_database("quote").await;
    let mut layers = platform::testing::test_layers(&Quote, &database_url)
        .set("http.workers", 1)
        .unwrap()
        .set(
            "quote.catalog_url",
            options.catalog_url.clone().unwrap_or_else(unreachable_url),
        )
        .unwrap()
        .set("quote.catalog_timeout_ms", 1_000)
        .unwrap()
        .set("quote.catalog_retries", 1)
        .unwrap();
    if options.redis {
        layers = layers
            .set("redis.url", platform::testing::shared_redis_url())
            .unwrap();
    }
    if let Some(brokers) = &options.kafka {
        layers = layers
            .set("kafka.brokers", brokers.clone())
            .unwrap()
            .set("outbox.poll_interval_ms", 10)
            .unwrap()
            .set("consumer.commit_interval_ms", 100)
            .unwrap();
    }
    if let Some(limit) = options.max_body_bytes {
        layers = layers.set("http.max_body_bytes", limit as u64).unwrap();
    }
    if let Some(floor) = options.floor_price_minor {
        layers = layers.set("quote.floor_price_minor", floor).unwrap();
    }
    let service = platform::testing::spawn_service(&Quote, &layers).await;
    let db = sea_orm::Database::connect(&database_url).await.unwrap();
    TestApp {
        db,
        shopper_token: service.token_for(SHOPPER, Role::Shopper),
        other_shopper_token: service.token_for(OTHER_SHOPPER, Role::Shopper),
        admin_token: service.token_for("admin-1", Role::Admin),
        service_token: service.token_for("order-service", Role::Service),
        service,
    }
}

platform::service_under_test!(TestApp);

impl TestApp {
    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path, &self.admin_token)
    }

    pub async fn post_quote(&self, body: &Value) -> Response {
        self.request(Method::POST, "/v1/quotes", &self.shopper_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a quote as [`SHOPPER`] and returns its JSON.
    pub async fn create_quote(&self, body: &Value) -> Value {
        let response = self.post_quote(body).await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        response.json().await.unwrap()
    }

    pub async fn lock(&self, quote_id: &str, order_id: Uuid, shopper_id: &str) -> Response {
        self.request(
            Method::POST,
            &format!("/v1/quotes/{quote_id}/lock"),
            &self.service_token,
        )
        .json(&json!({"order_id": order_id, "shopper_id": shopper_id}))
        .send()
        .await
        .unwrap()
    }

    /// Moves a quote's expiry into the past, as if its validity had run out.
    pub async fn expire(&self, quote_id: &str) {
        let update = Query::update()
            .table(Alias::new("quotes"))
            .value(
                Alias::new("expires_at"),
                chrono::Utc::now() - chrono::Duration::minutes(1),
            )
            .and_where(Expr::col(Alias::new("id")).eq(Uuid::parse_str(quote_id).unwrap()))
            .to_owned();
        let result = self.db.execute(&update).await.unwrap();
        assert_eq!(result.rows_affected(), 1);
    }

    /// `(event_type, aggregate_id, aggregate_seq)` of every event in the outbox, in order.
    pub async fn outbox(&self) -> Vec<(String, String, u64)> {
        use prost::Message as _;
        use sea_orm::{EntityTrait, QueryOrder};
        platform::event_tables::outbox::Entity::find()
            .order_by_asc(platform::event_tables::outbox::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| {
                let envelope = events::Envelope::decode(row.payload.as_slice()).unwrap();
                (row.event_type, row.aggregate_id, envelope.aggregate_seq)
            })
            .collect()
    }
}

/// The real catalog service, on its own fresh database, in this process.
pub struct TestCatalog {
    service: Option<platform::testing::SpawnedService>,
    pub address: String,
    admin_token: String,
}

pub async fn spawn_catalog(kafka: Option<&str>) -> TestCatalog {
    platform::telemetry::init_for_tests();
    let database_url = platform::testing::fresh_database("catalog").await;
    let mut layers = platform::testing::test_layers(&catalog::startup::Catalog, &database_url)
        .set("http.workers", 1)
        .unwrap()
        .set("database.max_connections", 3)
        .unwrap()
        .set("database.background_connections", 1)
        .unwrap();
    if let Some(brokers) = kafka {
        layers = layers
            .set("kafka.brokers", brokers)
            .unwrap()
            .set("outbox.poll_interval_ms", 10)
            .unwrap();
    }
    let service = platform::testing::spawn_service(&catalog::startup::Catalog, &layers).await;
    TestCatalog {
        address: service.address.clone(),
        admin_token: service.token_for("catalog-admin", Role::Admin),
        service: Some(service),
    }
}

impl TestCatalog {
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&self.admin_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "catalog {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// Creates a model with one variant priced `price_minor` INR and returns its JSON.
    pub async fn create_model(&self, brand: &str, category: &str, price_minor: i64) -> Value {
        self.admin(
            Method::POST,
            "/v1/admin/catalog/models",
            Some(json!({
                "brand": brand,
                "name": format!("Model {}", Uuid::new_v4().simple()),
                "category": category,
                "release_year": 2023,
                "variants": [{"name": "128 GB", "base_price": {"amount_minor": price_minor, "currency": "INR"}}]
            })),
        )
        .await
    }

    /// The standard questionnaire of `category` (see [`standard_questions`]).
    pub async fn put_questionnaire(&self, category: &str) -> Questionnaire {
        let body = self
            .admin(
                Method::PUT,
                &format!("/v1/admin/catalog/questionnaires/{category}"),
                Some(json!({ "questions": standard_questions() })),
            )
            .await;
        Questionnaire::from_json(&body)
    }

    /// Stops the catalog: from now on it refuses connections.
    pub async fn stop(&mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
    }
}

/// Three questions: screen (flawless 0, scratched -10 %, cracked -₹5,000), body (good 0,
/// dented -5 %), powers_on (yes 0, no -90 %).
pub fn standard_questions() -> Value {
    let option = |key: &str, deduction: Value| json!({"key": key, "label": key.replace('_', " "), "deduction": deduction});
    let percent = |basis_points: u32| json!({"kind": "percentage", "basis_points": basis_points});
    json!([
        {"key": "screen", "text": "Screen condition?", "options": [
            option("flawless", percent(0)),
            option("scratched", percent(1000)),
            option("cracked", json!({"kind": "absolute", "amount_minor": 500_000})),
        ]},
        {"key": "body", "text": "Body condition?", "options": [
            option("good", percent(0)),
            option("dented", percent(500)),
        ]},
        {"key": "powers_on", "text": "Does it power on?", "options": [
            option("yes", percent(0)),
            option("no", percent(9000)),
        ]},
    ])
}

/// Question and option ids by key.
#[derive(Debug, Clone)]
pub struct Questionnaire {
    ids: HashMap<(String, String), (String, String)>,
    questions: HashMap<String, String>,
}

impl Questionnaire {
    pub fn from_json(body: &Value) -> Self {
        let mut ids = HashMap::new();
        let mut questions = HashMap::new();
        for question in body["questions"].as_array().unwrap() {
            let key = question["key"].as_str().unwrap().to_owned();
            let id = question["id"].as_str().unwrap().to_owned();
            questions.insert(key.clone(), id.clone());
            for option in question["options"].as_array().unwrap() {
                ids.insert(
                    (key.clone(), option["key"].as_str().unwrap().to_owned()),
                    (id.clone(), option["id"].as_str().unwrap().to_owned()),
                );
            }
        }
        Self { ids, questions }
    }

    pub fn question_id(&self, key: &str) -> String {
        self.questions[key].clone()
    }

    pub fn option_id(&self, question: &str, option: &str) -> String {
        self.ids[&(question.to_owned(), option.to_owned())]
            .1
            .clone()
    }

    /// The answers JSON for `(question, option)` key pairs.
    pub fn answers(&self, chosen: &[(&str, &str)]) -> Value {
        Value::Array(
            chosen
                .iter()
                .map(|(question, option)| {
                    let (question_id, option_id) =
                        &self.ids[&((*question).to_owned(), (*option).to_owned())];
                    json!({"question_id": question_id, "option_id": option_id})
                })
                .collect(),
        )
    }

    /// Every question answered with its best option.
    pub fn flawless(&self) -> Value {
        self.answers(&[
            ("screen", "flawless"),
            ("body", "good"),
            ("powers_on", "yes"),
        ])
    }
}

/// A running catalog with a phone at [`BASE_PRICE`] and the standard questionnaire, and a
/// quote service that knows the catalog's URL.
pub struct Fixture {
    pub app: TestApp,
    pub catalog: TestCatalog,
    pub variant_id: String,
    pub model_id: String,
    pub questionnaire: Questionnaire,
}

pub async fn fixture() -> Fixture {
    fixture_with(TestOptions::default()).await
}

pub async fn fixture_with(options: TestOptions) -> Fixture {
    let catalog = spawn_catalog(None).await;
    let questionnaire = catalog.put_questionnaire("phone").await;
    let model = catalog.create_model("Acme", "phone", BASE_PRICE).await;
    let app = spawn_app_with(TestOptions {
        catalog_url: Some(catalog.address.clone()),
        ..options
    })
    .await;
    Fixture {
        variant_id: model["variants"][0]["id"].as_str().unwrap().to_owned(),
        model_id: model["id"].as_str().unwrap().to_owned(),
        app,
        catalog,
        questionnaire,
    }
}

impl Fixture {
    /// A quote request for the phone with these answers.
    pub fn request(&self, answers: Value) -> Value {
        json!({"variant_id": self.variant_id, "answers": answers, "pincode": "560001"})
    }

    /// A quote for the flawless phone, as [`SHOPPER`].
    pub async fn flawless_quote(&self) -> Value {
        self.app
            .create_quote(&self.request(self.questionnaire.flawless()))
            .await
    }
}

pub use platform::testing::assert_problem;

/// The `field`s of a 422 `validation_failed` body.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap().to_owned())
        .collect()
}
