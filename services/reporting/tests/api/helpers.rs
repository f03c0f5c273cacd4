use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::Event;
use platform::auth::Role;
use platform::testing::{SpawnedService, TestBroker, eventually};
use reporting::startup::Reporting;
use serde_json::Value;

pub const SETTLE: Duration = Duration::from_secs(30);

/// The broker the other services would publish to, and what they published.
pub struct Topics {
    pub broker: TestBroker,
    /// The next `aggregate_seq` per (producer, aggregate).
    seqs: Mutex<HashMap<(String, String), u64>>,
}

impl Topics {
    pub async fn start() -> Self {
        platform::telemetry::init_for_tests();
        let broker = TestBroker::start();
        broker.create_topics(&events::topics::ALL, 2).await;
        Self {
            broker,
            seqs: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes `event` as `producer` would, next in sequence for `aggregate`, as having
    /// happened at `at`; returns its envelope's event id.
    pub async fn says<E: Event>(
        &self,
        producer: &str,
        aggregate: impl ToString,
        event: &E,
        at: DateTime<Utc>,
    ) -> String {
        let aggregate = aggregate.to_string();
        let seq = {
            let mut seqs = self.seqs.lock().unwrap();
            let seq = seqs
                .entry((producer.to_owned(), aggregate.clone()))
                .or_insert(0);
            *seq += 1;
            *seq
        };
        self.broker
            .publish_at(producer, &aggregate, seq, event, at)
            .await
    }
}

/// Reporting on a fresh database of its own, reading `topics`.
pub struct TestApp {
    /// Declared first: dropped (killed) before what it uses.
    pub service: SpawnedService,
    pub admin_token: String,
}

platform::service_under_test!(TestApp);

pub async fn spawn_app(topics: &Topics) -> TestApp {
    let database_url = platform::testing::fresh_database("reporting").await;
    let layers = platform::testing::test_layers(&Reporting, &database_url)
        .set("redis.url", platform::testing::shared_redis_url())
        .unwrap()
        .set("kafka.brokers", topics.broker.brokers.clone())
        .unwrap()
        .set("reporting.metrics_reading_seconds", 1)
        .unwrap()
        .set("consumer.readings_interval_ms", 200)
        .unwrap();
    let service = platform::testing::spawn_service(&Reporting, &layers).await;
    TestApp {
        admin_token: service.token_for("admin-1", Role::Admin),
        service,
    }
}

impl TestApp {
    pub async fn json(&self, path: &str) -> Value {
        let response = self.get_as(&self.admin_token, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// The report at `path` once `done` holds for it; fails after [`SETTLE`].
    pub async fn report_when(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let last = std::cell::RefCell::new(Value::Null);
        eventually(SETTLE, &format!("the report {path} settles"), || async {
            let fetched = self.json(path).await;
            let settled = done(&fetched);
            *last.borrow_mut() = fetched;
            settled
        })
        .await;
        last.into_inner()
    }
}
