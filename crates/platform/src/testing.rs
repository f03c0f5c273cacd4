//! Real infrastructure for test suites (enabled with the `testing` feature): a fresh
//! database per test, the broker (embedded, or external when `KAFKA_BROKERS` is set) and a
//! private `redis-server` that a test may stop and restart without disturbing others.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

use crate::auth::{Authenticator, Role};
use crate::config::Layers;
use crate::kafka::{EmbeddedBroker, KafkaSettings};
use crate::service::AnyService;

/// Which database the suite runs on: `TEST_DATABASE=postgres` (default) or `sqlite`.
pub fn uses_sqlite() -> bool {
    std::env::var("TEST_DATABASE").as_deref() == Ok("sqlite")
}

/// A new, empty database for one test: a PostgreSQL database `test_<label>_<uuid>` on
/// `TEST_POSTGRES_URL`, or a new SQLite file. Returns its URL.
pub async fn fresh_database(label: &str) -> String {
    if uses_sqlite() {
        let dir = std::env::temp_dir().join("recommerce-tests");
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("{label}-{}.db", Uuid::new_v4().simple()));
        return format!("sqlite://{}?mode=rwc", path.display());
    }
    fresh_postgres_database(label).await
}

/// A new, empty PostgreSQL database whatever `TEST_DATABASE` says: for tests about
/// PostgreSQL itself (it going away, say). Returns its URL.
pub async fn fresh_postgres_database(label: &str) -> String {
    let admin_url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("test_{label}_{}", Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("PostgreSQL must be running for the tests (see README)");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

/// The shared Redis of the suite (`TEST_REDIS_URL`). Never stop it: use [`PrivateRedis`].
pub fn shared_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The broker for a test: librdkafka's embedded broker, or `KAFKA_BROKERS` if set.
pub struct TestBroker {
    /// The publishing tests' producer, made once (first, so it goes before the broker).
    producer: std::sync::OnceLock<crate::kafka::OffRuntime<rdkafka::producer::FutureProducer>>,
    embedded: Option<EmbeddedBroker>,
    pub brokers: String,
}

impl TestBroker {
    pub fn start() -> Self {
        match std::env::var("KAFKA_BROKERS") {
            Ok(brokers) if !brokers.trim().is_empty() => Self {
                producer: std::sync::OnceLock::new(),
                embedded: None,
                brokers,
            },
            _ => {
                let embedded = EmbeddedBroker::start(1).expect("embedded broker starts");
                Self {
                    producer: std::sync::OnceLock::new(),
                    brokers: embedded.bootstrap_servers().to_owned(),
                    embedded: Some(embedded),
                }
            }
        }
    }

    /// Always librdkafka's embedded broker, even where `KAFKA_BROKERS` is set: for tests
    /// that take the broker away (fault injection needs a broker the test controls).
    pub fn start_embedded() -> Self {
        let embedded = EmbeddedBroker::start(1).expect("embedded broker starts");
        Self {
            producer: std::sync::OnceLock::new(),
            brokers: embedded.bootstrap_servers().to_owned(),
            embedded: Some(embedded),
        }
    }

    pub fn settings(&self) -> KafkaSettings {
        KafkaSettings {
            brokers: self.brokers.clone(),
            message_timeout_ms: 3_000,
            ..KafkaSettings::default()
        }
    }

    /// Creates the topics (and their dead-letter topics) with `partitions` partitions.
    pub async fn create_topics(&self, topics: &[&str], partitions: i32) {
        match &self.embedded {
            Some(embedded) => {
                for topic in topics {
                    embedded.create_topic_with_dlq(topic, partitions).unwrap();
                }
            }
            None => {
                let settings = KafkaSettings {
                    topic_partitions: partitions,
                    ..self.settings()
                };
                settings.ensure_topics(topics).await.unwrap();
            }
        }
    }

    /// Fault injection needs the embedded broker; `None` against an external one.
    pub fn embedded(&self) -> Option<&EmbeddedBroker> {
        self.embedded.as_ref()
    }

    /// Publishes `event` on its topic as `producer` would: keyed by `aggregate_id`, with
    /// `aggregate_seq` = `seq`. Returns the event id.
    pub async fn publish<E: events::Event>(
        &self,
        producer: &str,
        aggregate_id: &str,
        seq: u64,
        event: &E,
    ) -> String {
        self.publish_in_trace(producer, aggregate_id, seq, event, "", None)
            .await
    }

    /// [`TestBroker::publish`] with `traceparent` in the envelope and, if given, `header` as
    /// the raw bytes of a `traceparent` Kafka header: whatever a foreign producer may send.
    pub async fn publish_in_trace<E: events::Event>(
        &self,
        producer: &str,
        aggregate_id: &str,
        seq: u64,
        event: &E,
        traceparent: &str,
        header: Option<&[u8]>,
    ) -> String {
        let envelope = events::Envelope::wrap(event, aggregate_id, seq, producer, traceparent);
        self.send(E::TOPIC, envelope, header).await
    }

    /// [`TestBroker::publish`] of an event that happened at `occurred_at`.
    pub async fn publish_at<E: events::Event>(
        &self,
        producer: &str,
        aggregate_id: &str,
        seq: u64,
        event: &E,
        occurred_at: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let envelope =
            events::Envelope::wrap_at(event, aggregate_id, seq, producer, "", occurred_at);
        self.send(E::TOPIC, envelope, None).await
    }

    /// Sends `envelope` to `topic` keyed by its aggregate id; returns its event id.
    pub async fn send(
        &self,
        topic: &str,
        envelope: events::Envelope,
        header: Option<&[u8]>,
    ) -> String {
        use prost::Message as _;
        use rdkafka::message::{Header, OwnedHeaders};
        use rdkafka::producer::FutureRecord;
        let producer = self
            .producer
            .get_or_init(|| self.settings().producer("test-publisher").unwrap());
        let payload = envelope.encode_to_vec();
        let mut record = FutureRecord::to(topic)
            .key(&envelope.aggregate_id)
            .payload(&payload);
        if let Some(value) = header {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "traceparent",
                value: Some(value),
            }));
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap();
        envelope.event_id
    }

    /// Reads `topic` from the start, with a consumer group of its own, keeping each event
    /// once (by id) when `keep` says so, until `enough` holds; fails after `deadline`.
    pub async fn read(
        &self,
        topic: &str,
        keep: impl Fn(&events::Envelope) -> bool,
        enough: impl Fn(&[events::Envelope]) -> bool,
        deadline: Duration,
    ) -> Vec<events::Envelope> {
        use prost::Message as _;
        use rdkafka::Message as _;
        use rdkafka::consumer::{Consumer, StreamConsumer};
        let group = format!("reader-{}", Uuid::new_v4().simple());
        let consumer: crate::kafka::OffRuntime<StreamConsumer> = crate::kafka::OffRuntime::new(
            self.settings()
                .consumer_config(&group, &group)
                .create()
                .unwrap(),
        );
        consumer.subscribe(&[topic]).unwrap();
        let mut read: Vec<events::Envelope> = Vec::new();
        let until = Instant::now() + deadline;
        while !enough(&read) {
            assert!(
                Instant::now() < until,
                "timed out reading {topic}: {} events",
                read.len()
            );
            if let Ok(Ok(message)) =
                tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
            {
                let envelope =
                    events::Envelope::decode(message.payload().unwrap_or_default()).unwrap();
                if keep(&envelope) && !read.iter().any(|seen| seen.event_id == envelope.event_id) {
                    read.push(envelope);
                }
            }
        }
        read
    }
}

/// A TCP proxy on loopback in front of a real server (PostgreSQL, Redis, a broker), which a
/// test cuts to make the server vanish for the service under test: live connections are
/// dropped and new ones refused until [`TcpProxy::restore`].
pub struct TcpProxy {
    pub port: u16,
    target: std::net::SocketAddr,
    cut: tokio_util::sync::CancellationToken,
}

impl TcpProxy {
    /// Forwards a free local port to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let target = tokio::net::lookup_host(target)
            .await
            .expect("the proxy's target resolves")
            .next()
            .expect("the proxy's target has an address");
        let mut proxy = Self {
            port: free_port(),
            target,
            cut: tokio_util::sync::CancellationToken::new(),
        };
        proxy.restore().await;
        proxy
    }

    /// `host:port` of the proxy.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server is gone: every connection through the proxy drops, new ones are refused.
    pub fn cut(&self) {
        self.cut.cancel();
    }

    /// The server is back on the same address.
    pub async fn restore(&mut self) {
        self.cut.cancel();
        self.cut = tokio_util::sync::CancellationToken::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            // The port was just freed by a cut (or picked free): retry while the OS lets go.
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "proxy port {}: {error}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let (cut, target) = (self.cut.clone(), self.target);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = cut.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                let cut = cut.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        () = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut.cancel();
    }
}

/// A `redis-server` of the test's own, on a free port, that the test may stop and restart.
pub struct PrivateRedis {
    child: Option<Child>,
    pub port: u16,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let mut redis = Self {
            child: None,
            port: free_port(),
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (nothing is persisted: a restart comes back empty).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until `condition` holds, failing the test after `deadline`.
pub async fn eventually<F, Fut>(deadline: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + deadline;
    loop {
        if condition().await {
            return;
        }
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// "2 cores (CPU model), linux": the machine line benchmarks print beside their figures.
pub fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({cpu}), {}", std::env::consts::OS)
}

/// Asserts a problem+json answer with `status` and `code`, and returns its body.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    let url = response.url().clone();
    let actual = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if actual != status {
        let body = response.text().await.unwrap_or_default();
        panic!("{url} answered {actual}, expected {status}: {body}");
    }
    assert!(
        content_type.starts_with(crate::error::PROBLEM_CONTENT_TYPE),
        "content type was {content_type}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    body
}

/// A service a test started, and the only way it ends: [`RunningApp::stop`] stops it as an
/// orchestrator would and waits, failing the test if that takes longer than the bound;
/// dropping the handle kills it at once, as a crash would. Either way it is gone before
/// whatever is declared before it in the test (the broker, the databases) is dropped, so
/// no Kafka client, relay or worker is left running against a vanished dependency.
pub struct RunningApp {
    server: actix_web::dev::ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The JWT secret the suites' test settings sign with.
pub const TEST_JWT_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

/// The settings every test starts a service with: test profile, any free port, two workers,
/// the [`TEST_GRACE`] period, `database_url`, [`TEST_JWT_SECRET`] and a Redis key prefix of
/// its own (Redis itself only where the test sets `redis.url`), a per-principal rate limit
/// out of reach and no sustained in-flight mark: suites send bursts under one token, on
/// debug builds, and both have tests of their own. Tests add their own keys.
pub fn test_layers(service: &dyn AnyService, database_url: &str) -> Layers {
    Layers::defaults(service.manifest().defaults)
        .and_then(|layers| layers.set("profile", "test"))
        .and_then(|layers| layers.set("http.port", 0))
        .and_then(|layers| layers.set("http.workers", 2))
        .and_then(|layers| layers.set("http.shutdown_grace_seconds", TEST_GRACE.as_secs()))
        .and_then(|layers| layers.set("database.url", database_url))
        .and_then(|layers| layers.set("database.max_connections", 10))
        .and_then(|layers| layers.set("auth.jwt_secret", TEST_JWT_SECRET))
        .and_then(|layers| layers.set("http.rate_limit.per_second", 100_000))
        .and_then(|layers| layers.set("http.rate_limit.burst", 100_000))
        .and_then(|layers| layers.set("http.sustained_in_flight", 0))
        .and_then(|layers| {
            layers.set(
                "redis.key_prefix",
                format!("test-{}:", Uuid::new_v4().simple()),
            )
        })
        .expect("the test settings are valid keys")
}

/// A service a test started with [`spawn_service`]: its handle, where it answers, a client
/// and tokens it accepts. Each suite's `TestApp` holds one first (so it is gone before the
/// broker and databases) and derefs to it.
pub struct SpawnedService {
    pub running: RunningApp,
    pub port: u16,
    pub address: String,
    /// Follows no redirects: tests look at what the service itself answers.
    pub client: reqwest::Client,
    pub authenticator: Authenticator,
}

/// How long the tokens tests sign stay valid.
const TEST_TOKEN_TTL: Duration = Duration::from_secs(3600);

impl SpawnedService {
    /// Stops the service as an orchestrator would and waits for it (failing the test past
    /// [`STOP_LIMIT`]); returns how long it took.
    pub async fn stop(self) -> Duration {
        // The client's idle keep-alive connections would hold up the drain.
        drop(self.client);
        self.running.stop().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Its `/metrics`, as Prometheus scrapes them (read a value with [`sample`]).
    pub async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await;
        response
            .expect("the service answers /metrics")
            .text()
            .await
            .expect("/metrics is text")
    }

    /// A token for `subject` in `role`.
    pub fn token_for(&self, subject: &str, role: Role) -> String {
        self.authenticator
            .issue(subject, role, None, TEST_TOKEN_TTL)
            .unwrap()
    }

    /// A token in `role` for a subject nobody else uses.
    pub fn token(&self, role: Role) -> String {
        self.token_for("someone", role)
    }

    /// A partner token speaking for `partner_id`.
    pub fn partner_token(&self, partner_id: Uuid) -> String {
        self.authenticator
            .issue(
                "dispatcher",
                Role::Partner,
                Some(partner_id),
                TEST_TOKEN_TTL,
            )
            .unwrap()
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Makes a suite's `TestApp` (with a `service: SpawnedService` field, declared first) deref to
/// its service, and gives it `stop`, which stops the service before the rest of what the
/// test holds (the broker, the databases) is dropped.
#[macro_export]
macro_rules! service_under_test {
    ($app:ty) => {
        impl std::ops::Deref for $app {
            type Target = $crate::testing::SpawnedService;

            fn deref(&self) -> &Self::Target {
                &self.service
            }
        }

        impl $app {
            /// Stops the service (see [`SpawnedService::stop`]).
            pub async fn stop(self) -> std::time::Duration {
                self.service.stop().await
            }
        }
    };
}

/// Builds `service` from `layers` (migrated, bound, background work running) and runs it
/// in the test's runtime: the one way every suite starts a service.
pub async fn spawn_service(service: &dyn AnyService, layers: &Layers) -> SpawnedService {
    let name = service.manifest().name();
    let authenticator = Authenticator::new(&layers.base().expect("valid test settings").auth);
    let application = service
        .start(layers)
        .await
        .unwrap_or_else(|error| panic!("{name} could not start: {error}"));
    let port = application.port();
    SpawnedService {
        running: RunningApp::spawn(application.handle(), application.run_until_stopped()),
        port,
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Below the server's 5 s keep-alive: a connection the server is closing as
            // idle is never picked for a request (hyper's `IncompleteMessage` on a busy
            // machine).
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
        authenticator,
    }
}

/// The grace period (`http.shutdown_grace_seconds`) the suites' test settings give.
pub const TEST_GRACE: Duration = Duration::from_secs(5);

/// Asserts that the service on `address` answers, that `stop` (its test handle's stop)
/// ends within [`TEST_GRACE`] (plus a second for the test process itself), and that
/// nothing answers on `address` afterwards.
pub async fn assert_stops_within_grace(
    address: &str,
    stop: impl std::future::Future<Output = Duration>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        // No idle connection left open to hold up the drain.
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let live = format!("{address}/health/live");
    let before = client.get(&live).send().await.unwrap();
    assert_eq!(before.status(), 200, "{live} before the stop");
    let took = stop.await;
    assert!(
        took <= TEST_GRACE + Duration::from_secs(1),
        "stopped in {took:?}, beyond the grace period of {TEST_GRACE:?}"
    );
    assert!(
        client.get(&live).send().await.is_err(),
        "{address} still answers after the stop"
    );
}

/// How long a test lets a service take to stop when nothing bounds it more tightly: the
/// test settings' grace period (5 s) and a margin for a loaded machine.
pub const STOP_LIMIT: Duration = Duration::from_secs(15);

impl RunningApp {
    /// Runs `run` (the service's `run_until_stopped`) in the test's runtime.
    pub fn spawn<F>(server: actix_web::dev::ServerHandle, run: F) -> Self
    where
        F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        Self {
            server,
            task: Some(tokio::spawn(run)),
        }
    }

    /// The server's own handle, to stop it from another runtime.
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.clone()
    }

    /// Stops the service gracefully within [`STOP_LIMIT`]; returns how long it took.
    pub async fn stop(self) -> Duration {
        self.stop_within(STOP_LIMIT).await
    }

    /// Stops the service gracefully and waits until its last task has ended; fails the
    /// test if that takes longer than `limit` or the service ended with an error.
    pub async fn stop_within(mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        let task = self.task.take().expect("a running app has its task");
        let server = self.server.clone();
        let stopped = tokio::time::timeout(limit, async move {
            server.stop(true).await;
            task.await
        })
        .await;
        let took = started.elapsed();
        match stopped {
            Ok(Ok(Ok(()))) => took,
            Ok(Ok(Err(error))) => panic!("the service stopped with an error: {error}"),
            Ok(Err(error)) => panic!("the service's task failed: {error}"),
            Err(_) => panic!("the service did not stop within {limit:?}"),
        }
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            // Sent at once; the answer is not waited for.
            let _stopping = self.server.stop(false);
            task.abort();
        }
    }
}

/// Fails unless every operation of a service's OpenAPI `document` declares what the shell
/// answers it before its handler runs: 400 with `invalid_path_parameter` where it has path
/// parameters, with `invalid_query_parameter` where it has query parameters, and 401 and
/// 403 where it needs a token.
pub fn assert_shell_answers_declared(document: &serde_json::Value) {
    let mut missing = Vec::new();
    let paths = document["paths"]
        .as_object()
        .expect("the document has paths");
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, operation) in item {
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let has = |place: &str| parameters.iter().any(|parameter| parameter["in"] == place);
            let responses = &operation["responses"];
            let mentions = |status: &str, code: &str| {
                responses[status]["description"]
                    .as_str()
                    .is_some_and(|description| description.contains(code))
            };
            if has("path") && !mentions("400", "invalid_path_parameter") {
                missing.push(format!("{method} {path}: 400 invalid_path_parameter"));
            }
            if has("query") && !mentions("400", "invalid_query_parameter") {
                missing.push(format!("{method} {path}: 400 invalid_query_parameter"));
            }
            let secured = operation["security"]
                .as_array()
                .is_some_and(|requirements| !requirements.is_empty());
            if secured && (responses["401"].is_null() || responses["403"].is_null()) {
                missing.push(format!("{method} {path}: 401 and 403"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "undeclared answers:\n{}",
        missing.join("\n")
    );
}

/// Fails unless `document` is an OpenAPI 3.1 document a client generator can rely on:
/// utoipa reads it back without losing anything, every `$ref` resolves, every response is
/// described and every link names an operation of the document.
pub fn assert_document_is_sound(document: &serde_json::Value) {
    use serde_json::Value;

    fn walk(value: &Value, references: &mut Vec<String>, linked: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(reference)) => references.push(reference.clone()),
                        ("pattern", Value::String(pattern)) => {
                            let classes = pattern.replace(r"[\s\S]", "");
                            assert!(
                                !classes.contains(r"\s") && !classes.contains(r"\S"),
                                "pattern {pattern:?}: \\s means different sets to ECMA-262, \
                                 Python and Rust; spell it out (platform::values::WHITESPACE_CLASS)"
                            );
                        }
                        ("links", Value::Object(links)) => {
                            linked.extend(links.values().filter_map(|link| {
                                link["operationId"].as_str().map(str::to_owned)
                            }));
                            walk(value, references, linked);
                        }
                        _ => walk(value, references, linked),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, references, linked)),
            _ => {}
        }
    }

    assert_eq!(document["openapi"], "3.1.0", "not an OpenAPI 3.1 document");
    let read: utoipa::openapi::OpenApi = serde_json::from_value(document.clone())
        .unwrap_or_else(|error| panic!("utoipa cannot read the document: {error}"));
    assert_eq!(
        &serde_json::to_value(read).expect("the document serializes"),
        document,
        "utoipa loses part of the document when it reads it"
    );
    let (mut references, mut linked) = (Vec::new(), Vec::new());
    walk(document, &mut references, &mut linked);
    let unresolved: Vec<&String> = references
        .iter()
        .filter(|reference| {
            reference
                .strip_prefix('#')
                .is_none_or(|pointer| document.pointer(pointer).is_none())
        })
        .collect();
    assert!(unresolved.is_empty(), "unresolved: {unresolved:?}");
    let mut operation_ids = std::collections::BTreeSet::new();
    let mut undescribed = Vec::new();
    for (path, method, operation) in operations(document) {
        if let Some(id) = operation["operationId"].as_str() {
            operation_ids.insert(id.to_owned());
        }
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            let described = response["description"]
                .as_str()
                .is_some_and(|text| !text.trim().is_empty());
            if !described {
                undescribed.push(format!("{method} {path} {status}"));
            }
        }
    }
    assert!(undescribed.is_empty(), "no description: {undescribed:?}");
    let dangling: Vec<&String> = linked
        .iter()
        .filter(|id| !operation_ids.contains(*id))
        .collect();
    assert!(dangling.is_empty(), "links to no operation: {dangling:?}");
}

/// Every operation of `document`, as (path, method, operation).
pub fn operations(document: &serde_json::Value) -> Vec<(String, String, &serde_json::Value)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if METHODS.contains(&method.as_str()) {
                found.push((path.clone(), method.clone(), operation));
            }
        }
    }
    found
}

/// The operation `method path` of `document`; fails when there is none.
pub fn operation<'a>(
    document: &'a serde_json::Value,
    method: &str,
    path: &str,
) -> &'a serde_json::Value {
    let operation = &document["paths"][path][method];
    assert!(operation.is_object(), "no operation {method} {path}");
    operation
}

/// The parameter `name` of `method path`; fails when there is none.
pub fn parameter<'a>(
    document: &'a serde_json::Value,
    method: &str,
    path: &str,
    name: &str,
) -> &'a serde_json::Value {
    operation(document, method, path)["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|parameter| parameter["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

/// Fails unless the list `GET path` declares `page` and `per_page` with the bounds
/// [`crate::pagination::PageQuery`] checks.
pub fn assert_paging_declared(document: &serde_json::Value, path: &str) {
    use crate::pagination::{MAX_PAGE, MAX_PER_PAGE};
    for (name, max) in [("page", MAX_PAGE), ("per_page", MAX_PER_PAGE)] {
        let schema = &parameter(document, "get", path, name)["schema"];
        assert_eq!(
            (schema["minimum"].as_u64(), schema["maximum"].as_u64()),
            (Some(1), Some(max)),
            "GET {path} {name}: {schema}"
        );
    }
}

/// Fails unless `method path` declares `status` with a description naming each of `codes`.
pub fn assert_declares(
    document: &serde_json::Value,
    method: &str,
    path: &str,
    status: u16,
    codes: &[&str],
) {
    let response = &operation(document, method, path)["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} does not declare {status}"
    );
    let description = response["description"].as_str().unwrap_or_default();
    for code in codes {
        assert!(
            description.contains(&format!("`{code}`")),
            "{method} {path} {status} does not name `{code}`: {description}"
        );
    }
}

/// Fails unless every operation with an `{id}` in its path, but those of `except`
/// ("method path"), declares 404 with a problem code.
pub fn assert_every_id_operation_declares_404(document: &serde_json::Value, except: &[&str]) {
    let mut missing = Vec::new();
    for (path, method, operation) in operations(document) {
        if !path.contains("{id}") || except.contains(&format!("{method} {path}").as_str()) {
            continue;
        }
        let named = operation["responses"]["404"]["description"]
            .as_str()
            .is_some_and(|description| description.contains("_not_found`"));
        if !named {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(missing.is_empty(), "no 404 with its code: {missing:?}");
}

/// The schema of `field` ("pickup.slot.window", "variants[].name") of the component schema
/// `schema`, through references, `items` and the `oneOf` of an optional field.
pub fn field_schema<'a>(
    document: &'a serde_json::Value,
    schema: &str,
    field: &str,
) -> &'a serde_json::Value {
    fn resolved<'a>(
        document: &'a serde_json::Value,
        schema: &'a serde_json::Value,
    ) -> &'a serde_json::Value {
        if let Some(reference) = schema["$ref"].as_str() {
            let pointer = reference.trim_start_matches('#');
            return resolved(
                document,
                document
                    .pointer(pointer)
                    .unwrap_or(&serde_json::Value::Null),
            );
        }
        for combinator in ["oneOf", "anyOf", "allOf"] {
            if let Some(branches) = schema[combinator].as_array()
                && let Some(branch) = branches.iter().find(|branch| branch["type"] != "null")
            {
                return resolved(document, branch);
            }
        }
        schema
    }
    let mut current = resolved(document, &document["components"]["schemas"][schema]);
    for part in field.split('.') {
        let (name, items) = match part.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (part, false),
        };
        current = resolved(document, &current["properties"][name]);
        if items {
            current = resolved(document, &current["items"]);
        }
        assert!(!current.is_null(), "{schema} has no field {field}");
    }
    current
}

/// The value of the sample of `name` whose labels include `labels`, in Prometheus' text
/// format (`/metrics`); `None` when there is none.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(series, _)| {
            let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
            series_name == name
                && labels
                    .iter()
                    .all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")))
        })
        .and_then(|(_, value)| value.parse().ok())
}

pub use opentelemetry_sdk::trace::SpanData;

/// Every span this process finishes, as the OpenTelemetry SDK would export it: for tests
/// that one trace carries across HTTP, the broker and background work. It installs the
/// process's tracing subscriber, so a test calls it first (nextest runs each test in a
/// process of its own).
pub struct SpanRecorder {
    exporter: opentelemetry_sdk::trace::InMemorySpanExporter,
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

impl SpanRecorder {
    pub fn install() -> Self {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tests")))
            .try_init()
            .expect("the span recorder is the process's first tracing subscriber");
        Self { exporter, provider }
    }

    /// The spans finished so far.
    pub fn spans(&self) -> Vec<opentelemetry_sdk::trace::SpanData> {
        let _ = self.provider.force_flush();
        self.exporter.get_finished_spans().unwrap_or_default()
    }
}
