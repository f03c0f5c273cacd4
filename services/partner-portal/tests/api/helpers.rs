use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use events::{Envelope, Event};
use partner_portal::startup::PartnerPortal;
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
    pub admin_token: String,
    seqs: Mutex<HashMap<Uuid, u64>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(WebhookTargets::Local).await
}

/// Which webhook targets the portal under test accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookTargets {
    /// Receivers on this machine, over http (the tests' own): both switches set on.
    Local,
    /// What production accepts: the test profile's defaults, public https only.
    Production,
    /// Whatever the dev profile gives when neither switch is set.
    DevProfile,
}

pub async fn spawn_app_with(targets: WebhookTargets) -> TestApp {
    platform::telemetry::init_for_tests();
    let broker = TestBroker::start();
    broker.create_topics(&events::topics::ALL, 2).await;
    let database_url = platform::testing::fresh_database("portal").await;
    let mut layers = platform::testing::test_layers(&PartnerPortal, &database_url);
    match targets {
        WebhookTargets::Local => {
            for key in [
                "partner_portal.webhooks.allow_private_targets",
                "partner_portal.webhooks.allow_plain_http",
            ] {
                layers = layers.set(key, true).unwrap();
            }
        }
        WebhookTargets::Production => {}
        WebhookTargets::DevProfile => layers = layers.set("profile", "dev").unwrap(),
    }
    let layers = layers
        .set("redis.url", platform::testing::shared_redis_url())
        .unwrap()
        .set("kafka.brokers", broker.brokers.clone())
        .unwrap()
        .set("outbox.poll_interval_ms", 10)
        .unwrap()
        .set("partner_portal.webhooks.retry_initial_ms", 50)
        .unwrap()
        .set("partner_portal.webhooks.retry_max_ms", 200)
        .unwrap()
        .set("partner_portal.webhooks.timeout_ms", 2_000)
        .unwrap();
    let service = platform::testing::spawn_service(&PartnerPortal, &layers).await;
    TestApp {
        admin_token: service.token_for("admin-1", Role::Admin),
        service,
        broker,
        seqs: Mutex::new(HashMap::new()),
    }
}

platform::service_under_test!(TestApp);

impl TestApp {
    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn send_as(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// Registers a webhook for the partner behind `token`; returns its id.
    pub async fn webhook(&self, token: &str, url: &str) -> String {
        let response = self
            .post_as(token, "/v1/portal/webhooks", &json!({ "url": url }))
            .await;
        assert_eq!(response.status(), 201);
        let hook: Value = response.json().await.unwrap();
        hook["id"].as_str().unwrap().to_owned()
    }

    /// The `type`s of the deliveries queued for the partner behind `token`, oldest first.
    pub async fn delivery_types(&self, token: &str) -> Vec<String> {
        let list = self
            .json_as(token, "/v1/portal/webhooks/deliveries?per_page=100")
            .await;
        let mut types: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["type"].as_str().unwrap().to_owned())
            .collect();
        types.reverse();
        types
    }

    pub async fn json_as(&self, token: &str, path: &str) -> Value {
        let response = self.get_as(token, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Publishes `event` as fulfilment would, with its next seq for the order.
    pub async fn fulfilment_says<E: Event>(&self, order_id: Uuid, event: &E) {
        let seq = {
            let mut seqs = self.seqs.lock().unwrap();
            let seq = seqs.entry(order_id).or_insert(0);
            *seq += 1;
            *seq
        };
        self.broker
            .publish("fulfilment", &order_id.to_string(), seq, event)
            .await;
    }

    /// Fulfilment creates a `kind` job and offers it to `partner_id`; returns (order, job).
    pub async fn offered_job(&self, partner_id: Uuid, kind: &str) -> (Uuid, Uuid) {
        let (order_id, job_id) = (Uuid::now_v7(), Uuid::now_v7());
        self.fulfilment_says(
            order_id,
            &events::fulfilment::JobCreated {
                order_id: order_id.to_string(),
                job_id: job_id.to_string(),
                kind: kind.into(),
                pincode: "560001".into(),
                address: "12 MG Road".into(),
                slot_date: "2026-12-01".into(),
                slot_window: "morning".into(),
                variant_id: Uuid::new_v4().to_string(),
            },
        )
        .await;
        self.fulfilment_says(
            order_id,
            &events::fulfilment::PartnerAssigned {
                order_id: order_id.to_string(),
                job_id: job_id.to_string(),
                partner_id: partner_id.to_string(),
                kind: kind.into(),
            },
        )
        .await;
        let token = self.partner_token(partner_id);
        let path = format!("/v1/portal/jobs/{job_id}");
        eventually(SETTLE, "the partner sees the offer", || async {
            let response = self.get_as(&token, &path).await;
            response.status() == 200
                && response.json::<Value>().await.unwrap()["status"] == "offered"
        })
        .await;
        (order_id, job_id)
    }

    /// A partner user created by an admin, with a token the portal issued.
    pub async fn portal_user(&self, partner_id: Uuid) -> (Uuid, String) {
        let response = self
            .post_as(
                &self.admin_token,
                "/v1/portal/admin/users",
                &json!({"partner_id": partner_id, "email": format!("{}@partner.example", Uuid::new_v4().simple()), "name": "Dispatcher"}),
            )
            .await;
        assert_eq!(response.status(), 201);
        let user: Value = response.json().await.unwrap();
        let id: Uuid = user["id"].as_str().unwrap().parse().unwrap();
        let response = self
            .post_as(
                &self.admin_token,
                &format!("/v1/portal/admin/users/{id}/tokens"),
                &json!({}),
            )
            .await;
        assert_eq!(response.status(), 201);
        let token: Value = response.json().await.unwrap();
        (id, token["token"].as_str().unwrap().to_owned())
    }

    /// `partner.events` for `order_id`, read until `enough`.
    pub async fn reported(
        &self,
        order_id: Uuid,
        enough: impl Fn(&[Envelope]) -> bool,
    ) -> Vec<Envelope> {
        let order = order_id.to_string();
        self.broker
            .read(
                events::topics::PARTNER_EVENTS,
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
