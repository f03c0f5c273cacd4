//! Starts recommerce's real services side by side, as one deployment would run them: each
//! on its own database, all on one broker (embedded, or `KAFKA_BROKERS`) and one Redis, and
//! talking to each other over HTTP. Scenarios drive them through their public APIs and the
//! broker only; nothing here reaches into a service's code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use actix_web::dev::ServerHandle;
use events::{Envelope, Event};
use platform::auth::{Authenticator, Role};
use platform::config::Layers;
use platform::service::AnyService;
use platform::testing::{RunningApp, SpawnedService, TestBroker, eventually};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use uuid::Uuid;

pub const JWT_SECRET: &str = "system-test-secret-that-is-at-least-32-bytes";
/// How long a scenario waits for the platform to settle before it fails.
pub const SETTLE: Duration = Duration::from_secs(60);

/// A running service: where it answers, and how to stop it. Dropped, it is killed at once
/// (see [`RunningApp`]).
pub struct Service {
    running: std::sync::Mutex<Option<RunningApp>>,
    handle: ServerHandle,
    pub address: String,
    pub port: u16,
    pub database_url: String,
}

impl Service {
    /// Stops it like an orchestrator would: in-flight requests finish, its background work
    /// stops, and it is gone, within the test settings' grace period; else the test fails.
    pub async fn stop(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some(running) = running {
            running.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// To stop it from another runtime.
    pub fn server_handle(&self) -> ServerHandle {
        self.handle.clone()
    }
}

pub struct Platform {
    pub broker: TestBroker,
    pub http: Client,
    pub authenticator: Authenticator,
    pub admin_token: String,
    redis_prefix: String,
    /// The services also read `APP_*` (see [`Platform::reading_the_environment`]).
    environment: bool,
}

/// Catalog, quote and order (on that quote), each on a fresh database: the scenarios about
/// an order itself, where the test plays fulfilment. Declared after the [`Platform`], they
/// are dropped before its broker.
pub struct OrderSide {
    pub catalog: Service,
    pub quote: Service,
    pub order: Service,
}

/// Which of the order service's neighbours a scenario wants it to find.
pub struct OrderOptions {
    pub quote_url: String,
}

impl Platform {
    /// The broker with every topic; no service yet.
    pub async fn start() -> Self {
        Self::start_with_partitions(2).await
    }

    /// [`Platform::start`] with `partitions` per topic. The embedded broker keeps at most
    /// 5 MiB per partition and drops the oldest beyond it, so a run that publishes tens of
    /// thousands of events, with consumers behind, needs more partitions than a test.
    pub async fn start_with_partitions(partitions: i32) -> Self {
        platform::telemetry::init_for_tests();
        let broker = TestBroker::start();
        broker.create_topics(&events::topics::ALL, partitions).await;
        // The services' own settings (test profile, this secret): tokens signed here,
        // service tokens included, are theirs.
        let layers = Layers::defaults(catalog::configuration::SERVICE)
            .unwrap()
            .set("profile", "test")
            .unwrap()
            .set("auth.jwt_secret", JWT_SECRET)
            .unwrap();
        let authenticator = Authenticator::new(&layers.base().unwrap().auth);
        let admin_token = authenticator
            .issue("admin-1", Role::Admin, None, Duration::from_secs(3600))
            .unwrap();
        Self {
            broker,
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            authenticator,
            admin_token,
            redis_prefix: format!("sys-{}:", Uuid::new_v4().simple()),
            environment: false,
        }
    }

    /// Services started from now on take `APP_*` variables over the run's settings, as
    /// `recommerce serve` does: a benchmark run can try a setting. Tests never do. They also
    /// keep to the sustained in-flight mark a deployment has by default (test settings turn
    /// it off), since benchmarks measure overload as a deployment answers it.
    pub fn reading_the_environment(mut self) -> Self {
        self.environment = true;
        self
    }

    fn layers(&self, service: &dyn AnyService, database_url: &str, port: u16) -> Layers {
        let layers = platform::testing::test_layers(service, database_url)
            .set("http.port", port)
            .unwrap()
            .set("auth.jwt_secret", JWT_SECRET)
            .unwrap()
            .set("redis.url", platform::testing::shared_redis_url())
            .unwrap()
            .set("redis.key_prefix", self.redis_prefix.clone())
            .unwrap()
            .set("kafka.brokers", self.broker.brokers.clone())
            .unwrap()
            .set("outbox.poll_interval_ms", 10)
            .unwrap();
        if self.environment {
            layers
                .set(
                    "http.sustained_in_flight",
                    platform::config::DEFAULT_SUSTAINED_IN_FLIGHT as u64,
                )
                .unwrap()
                .with_environment()
                .unwrap()
        } else {
            layers
        }
    }

    pub fn token(&self, subject: &str, role: Role) -> String {
        self.authenticator
            .issue(subject, role, None, Duration::from_secs(3600))
            .unwrap()
    }

    /// The catalog with its seed data, publishing to `catalog.events`.
    pub async fn catalog(&self) -> Service {
        let database_url = platform::testing::fresh_database("sys_catalog").await;
        let layers = self
            .layers(&catalog::startup::Catalog, &database_url, 0)
            .set("catalog.seed_on_start", true)
            .unwrap();
        let spawned = platform::testing::spawn_service(&catalog::startup::Catalog, &layers).await;
        service(spawned, database_url)
    }

    /// Quote on `port` (0: any) and `database_url` (a restart reuses both).
    pub async fn quote(&self, port: u16, database_url: &str, catalog: &Service) -> Service {
        let layers = self
            .layers(&quote_service::startup::Quote, database_url, port)
            .set("quote.catalog_url", catalog.address.clone())
            .unwrap();
        let spawned =
            platform::testing::spawn_service(&quote_service::startup::Quote, &layers).await;
        service(spawned, database_url.to_owned())
    }

    pub async fn order(&self, database_url: &str, options: OrderOptions) -> Service {
        self.order_processing(database_url, options, true).await
    }

    /// An order instance that accepts and answers but does not process (`order.process_orders`
    /// off): what it accepts waits for an instance that does.
    pub async fn order_not_processing(&self, database_url: &str, options: OrderOptions) -> Service {
        self.order_processing(database_url, options, false).await
    }

    async fn order_processing(
        &self,
        database_url: &str,
        options: OrderOptions,
        processing: bool,
    ) -> Service {
        let layers = self
            .layers(&order::startup::Order, database_url, 0)
            .set("order.process_orders", processing)
            .unwrap()
            .set("order.quote_url", options.quote_url)
            .unwrap()
            .set("order.quote_timeout_ms", 2_000)
            .unwrap()
            .set("order.processor.retry_initial_ms", 100)
            .unwrap()
            .set("order.processor.retry_max_ms", 1_000)
            .unwrap();
        let spawned = platform::testing::spawn_service(&order::startup::Order, &layers).await;
        service(spawned, database_url.to_owned())
    }

    /// See [`OrderSide`].
    pub async fn order_side(&self) -> OrderSide {
        let catalog = self.catalog().await;
        let quote_db = platform::testing::fresh_database("sys_quote").await;
        let quote = self.quote(0, &quote_db, &catalog).await;
        let order_db = platform::testing::fresh_database("sys_order").await;
        let order = self
            .order(
                &order_db,
                OrderOptions {
                    quote_url: quote.address.clone(),
                },
            )
            .await;
        OrderSide {
            catalog,
            quote,
            order,
        }
    }

    /// Fulfilment on `port` (0: any) and `database_url` (a restart reuses both), re-pricing
    /// through `quote`. Offers wait for acceptance far longer than any scenario runs.
    pub async fn fulfilment(&self, port: u16, database_url: &str, quote: &Service) -> Service {
        let layers = self
            .layers(&fulfilment::startup::Fulfilment, database_url, port)
            .set("fulfilment.quote_url", quote.address.clone())
            .unwrap()
            .set("fulfilment.quote_timeout_ms", 2_000)
            .unwrap()
            .set("fulfilment.requote.retry_initial_ms", 100)
            .unwrap()
            .set("fulfilment.requote.retry_max_ms", 1_000)
            .unwrap();
        let spawned =
            platform::testing::spawn_service(&fulfilment::startup::Fulfilment, &layers).await;
        service(spawned, database_url.to_owned())
    }

    /// The partner portal; webhooks may call loopback receivers (the scenarios' own, over
    /// http).
    pub async fn portal(&self, database_url: &str) -> Service {
        let layers = self
            .layers(&partner_portal::startup::PartnerPortal, database_url, 0)
            .set("partner_portal.webhooks.allow_private_targets", true)
            .unwrap()
            .set("partner_portal.webhooks.allow_plain_http", true)
            .unwrap()
            .set("partner_portal.webhooks.retry_initial_ms", 100)
            .unwrap()
            .set("partner_portal.webhooks.retry_max_ms", 1_000)
            .unwrap();
        let spawned =
            platform::testing::spawn_service(&partner_portal::startup::PartnerPortal, &layers)
                .await;
        service(spawned, database_url.to_owned())
    }

    /// Reporting: the admins' reports, from every topic.
    pub async fn reporting(&self, database_url: &str) -> Service {
        let layers = self.layers(&reporting::startup::Reporting, database_url, 0);
        let spawned =
            platform::testing::spawn_service(&reporting::startup::Reporting, &layers).await;
        service(spawned, database_url.to_owned())
    }

    /// A seeded device: its first variant, and answers for the best and the worst condition.
    pub async fn device(&self, catalog: &Service) -> Device {
        let list: Value = self.get(catalog, "/v1/devices?category=phone", None).await;
        let id = list["items"][0]["id"].as_str().unwrap();
        let detail: Value = self.get(catalog, &format!("/v1/devices/{id}"), None).await;
        let questions = detail["questionnaire"]["questions"].as_array().unwrap();
        let answers = |pick: fn(&Vec<Value>) -> &Value| -> Value {
            questions
                .iter()
                .map(|question| {
                    let option = pick(question["options"].as_array().unwrap());
                    json!({"question_id": question["id"], "option_id": option["id"]})
                })
                .collect()
        };
        Device {
            variant_id: detail["variants"][0]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
            best: answers(|options| options.first().unwrap()),
            worst: answers(|options| options.last().unwrap()),
        }
    }

    /// Registers a partner with `fulfilment` (the admin's back office), holding up to
    /// `daily_capacity` jobs a day, and gives it a user of `portal` with a token.
    pub async fn register_partner(
        &self,
        fulfilment: &Service,
        portal: &Service,
        name: &str,
        kind: &str,
        pincodes: &[&str],
        daily_capacity: i64,
    ) -> Partner {
        let response = self
            .http
            .post(fulfilment.url("/v1/admin/partners"))
            .bearer_auth(&self.admin_token)
            .json(&json!({
                "name": name,
                "kind": kind,
                "pincodes": pincodes,
                "daily_capacity": daily_capacity,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let partner: Value = response.json().await.unwrap();
        let id: Uuid = partner["id"].as_str().unwrap().parse().unwrap();
        let response = self
            .http
            .post(portal.url("/v1/portal/admin/users"))
            .bearer_auth(&self.admin_token)
            .json(&json!({
                "partner_id": id,
                "email": format!("{}@partners.example", name.to_lowercase().replace(' ', "-")),
                "name": format!("{name} dispatcher"),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let user: Value = response.json().await.unwrap();
        let user_id: Uuid = user["id"].as_str().unwrap().parse().unwrap();
        let response = self
            .http
            .post(portal.url(&format!("/v1/portal/admin/users/{user_id}/tokens")))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let token: Value = response.json().await.unwrap();
        Partner {
            id,
            user_id,
            token: token["token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn get(&self, service: &Service, path: &str, token: Option<&str>) -> Value {
        let mut request = self.http.get(service.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// A quote for `shopper`, which must be issued (201).
    pub async fn quote_for(
        &self,
        quote: &Service,
        shopper: &str,
        variant: Uuid,
        answers: &Value,
    ) -> Value {
        let response = self
            .http
            .post(quote.url("/v1/quotes"))
            .bearer_auth(shopper)
            .json(&json!({"variant_id": variant, "answers": answers, "pincode": "560001"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        response.json().await.unwrap()
    }

    pub async fn place_order(
        &self,
        order: &Service,
        shopper: &str,
        key: &str,
        quote_id: &str,
    ) -> Response {
        self.http
            .post(order.url("/v1/orders"))
            .bearer_auth(shopper)
            .header("Idempotency-Key", key)
            .json(&order_body(quote_id))
            .send()
            .await
            .unwrap()
    }

    /// Places an order that must be accepted; returns its id.
    pub async fn accepted_order(&self, order: &Service, shopper: &str, quote_id: &str) -> Uuid {
        let response = self
            .place_order(order, shopper, &Uuid::new_v4().to_string(), quote_id)
            .await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn order_json(&self, order: &Service, id: Uuid) -> Value {
        self.get(
            order,
            &format!("/v1/admin/orders/{id}"),
            Some(&self.admin_token),
        )
        .await
    }

    /// The order's timeline as `(seq, status, event)`.
    pub async fn timeline(&self, order: &Service, id: Uuid) -> Vec<(i64, String, String)> {
        let timeline: Value = self
            .get(
                order,
                &format!("/v1/orders/{id}/timeline"),
                Some(&self.admin_token),
            )
            .await;
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                (
                    item["seq"].as_i64().unwrap(),
                    item["status"].as_str().unwrap().to_owned(),
                    item["event"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    pub async fn wait_for_status(&self, order: &Service, id: Uuid, status: &str) -> Value {
        let what = format!("order {id} reaches {status}");
        eventually(SETTLE, &what, || async {
            self.order_json(order, id).await["status"] == status
        })
        .await;
        self.order_json(order, id).await
    }

    /// The value of the sample of `name` with `labels` on `service`'s `/metrics`; 0 when
    /// there is none yet (a counter that was never incremented).
    pub async fn metric(&self, service: &Service, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self
            .http
            .get(service.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        platform::testing::sample(&text, name, labels).unwrap_or(0.0)
    }

    /// Publishes a fulfilment event for `order_id` as the fulfilment service would.
    pub async fn publish_fulfilment<E: Event>(
        &self,
        order_id: Uuid,
        seq: u64,
        event: &E,
    ) -> String {
        self.broker
            .publish("fulfilment", &order_id.to_string(), seq, event)
            .await
    }

    /// Reads `topic` from the start with a consumer group of its own until `enough` holds for
    /// what was read (each event once, by event id), or fails after [`SETTLE`].
    pub async fn read_topic(
        &self,
        topic: &str,
        enough: impl Fn(&[Envelope]) -> bool,
    ) -> Vec<Envelope> {
        self.broker.read(topic, |_| true, enough, SETTLE).await
    }
}

/// A valid order for `quote_id`: a pickup tomorrow morning in 560001, paid out by UPI.
pub fn order_body(quote_id: &str) -> Value {
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

/// `(aggregate_seq, event_type)` of each aggregate's envelopes, in the order they were read.
pub fn events_by_aggregate(
    read: &[Envelope],
) -> std::collections::HashMap<String, Vec<(u64, String)>> {
    let mut published: std::collections::HashMap<String, Vec<(u64, String)>> =
        std::collections::HashMap::new();
    for envelope in read {
        published
            .entry(envelope.aggregate_id.clone())
            .or_default()
            .push((envelope.aggregate_seq, envelope.event_type.clone()));
    }
    published
}

/// The single integer `sql` selects from a service's database, e.g. a `COUNT(*)`.
pub async fn query_count(database_url: &str, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    db.close().await.ok();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Waits until `condition` holds, for checks that need no I/O.
pub async fn eventually_true(what: &str, condition: impl Fn() -> bool) {
    eventually(SETTLE, what, || std::future::ready(condition())).await;
}

/// A partner as fulfilment knows it, with a portal user's token to act as it.
#[derive(Clone)]
pub struct Partner {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token: String,
}

/// All six services on one broker and one Redis, the way a deployment runs them.
/// The services come first: fields drop in order, so they are gone before the broker.
pub struct Marketplace {
    pub catalog: Service,
    pub quote: Service,
    pub order: Service,
    pub fulfilment: Service,
    pub portal: Service,
    pub reporting: Service,
    pub platform: Platform,
}

impl Marketplace {
    pub async fn start() -> Self {
        let platform = Platform::start().await;
        let catalog = platform.catalog().await;
        let quote_db = platform::testing::fresh_database("sys_quote").await;
        let quote = platform.quote(0, &quote_db, &catalog).await;
        let order_db = platform::testing::fresh_database("sys_order").await;
        let order = platform
            .order(
                &order_db,
                OrderOptions {
                    quote_url: quote.address.clone(),
                },
            )
            .await;
        let fulfilment_db = platform::testing::fresh_database("sys_fulfilment").await;
        let fulfilment = platform.fulfilment(0, &fulfilment_db, &quote).await;
        let portal_db = platform::testing::fresh_database("sys_portal").await;
        let portal = platform.portal(&portal_db).await;
        let reporting_db = platform::testing::fresh_database("sys_reporting").await;
        let reporting = platform.reporting(&reporting_db).await;
        Self {
            platform,
            catalog,
            quote,
            order,
            fulfilment,
            portal,
            reporting,
        }
    }

    /// Registers a partner with fulfilment (the admin's back office) and gives it a portal
    /// user with a token issued by the portal.
    pub async fn partner(&self, name: &str, kind: &str, pincodes: &[&str]) -> Partner {
        self.partner_with_capacity(name, kind, pincodes, 50).await
    }

    /// As [`Marketplace::partner`], holding up to `daily_capacity` jobs a day.
    pub async fn partner_with_capacity(
        &self,
        name: &str,
        kind: &str,
        pincodes: &[&str],
        daily_capacity: i64,
    ) -> Partner {
        self.platform
            .register_partner(
                &self.fulfilment,
                &self.portal,
                name,
                kind,
                pincodes,
                daily_capacity,
            )
            .await
    }

    /// The partner's portal job list (first 100).
    pub async fn portal_jobs(&self, partner: &Partner) -> Vec<Value> {
        let list = self
            .platform
            .get(
                &self.portal,
                "/v1/portal/jobs?per_page=100",
                Some(&partner.token),
            )
            .await;
        list["items"].as_array().unwrap().clone()
    }

    /// Waits until `partner` sees a `kind` job of `order_id` in `status`, and returns it.
    pub async fn wait_for_job(
        &self,
        partner: &Partner,
        order_id: Uuid,
        kind: &str,
        status: &str,
    ) -> Value {
        let find = |jobs: Vec<Value>| {
            jobs.into_iter().find(|job| {
                job["order_id"] == order_id.to_string()
                    && job["kind"] == kind
                    && job["status"] == status
            })
        };
        let what = format!("the partner sees the {kind} job of order {order_id} {status}");
        eventually(SETTLE, &what, || async {
            find(self.portal_jobs(partner).await).is_some()
        })
        .await;
        find(self.portal_jobs(partner).await).unwrap()
    }

    /// A partner's action on a job through the portal.
    pub async fn act(&self, partner: &Partner, job: &Value, action: &str, body: Value) -> Response {
        let id = job["id"].as_str().unwrap();
        self.platform
            .http
            .post(self.portal.url(&format!("/v1/portal/jobs/{id}/{action}")))
            .bearer_auth(&partner.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// As [`Marketplace::act`], which the portal must accept (202).
    pub async fn acts(&self, partner: &Partner, job: &Value, action: &str, body: Value) {
        let response = self.act(partner, job, action, body).await;
        assert_eq!(
            response.status(),
            202,
            "{action}: {:?}",
            response.text().await
        );
    }
}

/// A partner's webhook endpoint: records every delivery and answers 200.
pub struct WebhookReceiver {
    pub url: String,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    handle: ServerHandle,
}

impl WebhookReceiver {
    pub async fn start() -> Self {
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = received.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = actix_web::HttpServer::new(move || {
            let sink = sink.clone();
            actix_web::App::new().default_service(actix_web::web::to(
                move |body: actix_web::web::Bytes| {
                    let sink = sink.clone();
                    async move {
                        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
                            sink.lock().unwrap().push(value);
                        }
                        actix_web::HttpResponse::Ok().finish()
                    }
                },
            ))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hooks"),
            received,
            handle,
        }
    }

    pub fn deliveries(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

pub struct Device {
    pub variant_id: Uuid,
    pub best: Value,
    pub worst: Value,
}

fn service(spawned: SpawnedService, database_url: String) -> Service {
    Service {
        handle: spawned.running.server_handle(),
        running: std::sync::Mutex::new(Some(spawned.running)),
        address: spawned.address,
        port: spawned.port,
        database_url,
    }
}
