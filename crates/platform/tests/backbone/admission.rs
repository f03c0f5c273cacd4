//! What a server refuses under load, over real HTTP: past its in-flight cap, 503
//! `overloaded`; past a principal's rate, 429 `rate_limited`; both problem+json with
//! `Retry-After`, and never for health probes or for the routes it keeps for last.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use platform::admission::{Admission, RateLimitSettings};
use platform::auth::{Authenticator, Role};
use platform::testing::eventually;
use reqwest::Method;
use tokio::sync::Semaphore;

const SECRET: &str = "a-test-secret-that-is-at-least-32-bytes";

struct Server {
    address: String,
    authenticator: Authenticator,
    /// Requests to `/slow` wait for a permit here: the test decides when they finish.
    gate: Arc<Semaphore>,
    client: reqwest::Client,
}

fn base() -> platform::config::BaseSettings {
    platform::config::Layers::defaults(platform::config::ServiceDefaults {
        name: "test",
        port: 0,
    })
    .unwrap()
    .set("profile", "test")
    .unwrap()
    .set("auth.jwt_secret", SECRET)
    .unwrap()
    .base()
    .unwrap()
}

fn authenticator() -> Authenticator {
    Authenticator::new(&base().auth)
}

/// Serves `/slow` (held until the test lets it go), `POST /orders` (the same, marked
/// priority where the admission says so) and `/fast`, behind `admission`.
async fn serve(admission: Admission) -> Server {
    let base = base();
    let authenticator = authenticator();
    let listener = platform::http::bind(&base.http).unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let gate = Arc::new(Semaphore::new(0));
    let parts = platform::http::ServerParts {
        http: base.http.clone(),
        openapi: platform::http::openapi_skeleton("test", "test"),
        admission,
        authenticator: authenticator.clone(),
        health: platform::health::HealthChecks::default(),
        metrics_registry: prometheus::Registry::new(),
        metrics_namespace: "test".into(),
    };
    let slow_gate = web::Data::new(gate.clone());
    let server = platform::http::serve(listener, parts, move |cfg| {
        cfg.app_data(slow_gate.clone())
            .route("/slow", web::get().to(slow))
            .route("/orders", web::post().to(slow))
            .route(
                "/fast",
                web::get().to(|| async { HttpResponse::Ok().finish() }),
            );
    })
    .unwrap();
    tokio::spawn(server);
    Server {
        address,
        authenticator,
        gate,
        client: reqwest::Client::new(),
    }
}

async fn slow(gate: web::Data<Arc<Semaphore>>) -> HttpResponse {
    match gate.acquire().await {
        Ok(permit) => permit.forget(),
        Err(_) => return HttpResponse::InternalServerError().finish(),
    }
    HttpResponse::Ok().finish()
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    fn token(&self, subject: &str, role: Role) -> String {
        self.authenticator
            .issue(subject, role, None, Duration::from_secs(600))
            .unwrap()
    }

    /// Sends `count` requests to a held route and waits until `admission` counts them in
    /// flight; they finish once the test adds permits to the gate.
    async fn hold(
        &self,
        admission: &Admission,
        method: Method,
        path: &str,
        count: usize,
    ) -> Vec<tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>> {
        let before = admission.in_flight();
        let held = (0..count)
            .map(|_| {
                let request = self.client.request(method.clone(), self.url(path));
                tokio::spawn(request.send())
            })
            .collect();
        eventually(
            Duration::from_secs(10),
            "the requests held in flight",
            || async { admission.in_flight() == before + count },
        )
        .await;
        held
    }

    async fn get_as(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

async fn assert_refused(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "Retry-After of at least a second");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code);
    assert_eq!(body["status"], status);
}

#[tokio::test]
async fn past_its_in_flight_cap_a_server_answers_503_overloaded_yet_keeps_probes_and_priority_routes()
 {
    let admission = Admission::new(2, 1, platform::background::RequestLoad::never_yield())
        .prioritise(actix_web::http::Method::POST, "/orders");
    let server = serve(admission.clone()).await;
    let held = server.hold(&admission, Method::GET, "/slow", 2).await;

    assert_refused(server.get_as("/fast", None).await, 503, "overloaded").await;
    assert_eq!(server.get_as("/health/live", None).await.status(), 200);
    assert_eq!(server.get_as("/metrics", None).await.status(), 200);
    // Order placement is shed last: the reserve still takes one.
    let placing = server.hold(&admission, Method::POST, "/orders", 1).await;
    let past_the_reserve = server
        .client
        .post(server.url("/orders"))
        .send()
        .await
        .unwrap();
    assert_refused(past_the_reserve, 503, "overloaded").await;

    server.gate.add_permits(3);
    for request in held.into_iter().chain(placing) {
        assert_eq!(request.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(
        server.get_as("/fast", None).await.status(),
        200,
        "room again"
    );
}

#[tokio::test]
async fn a_server_kept_at_its_sustained_mark_past_the_grace_refuses_past_it_at_once_and_takes_requests_again_once_it_falls()
 {
    let admission = Admission::new(100, 1, platform::background::RequestLoad::never_yield())
        .with_sustained_limit(2, Duration::from_millis(100))
        .prioritise(actix_web::http::Method::POST, "/orders");
    let server = serve(admission.clone()).await;
    let held = server.hold(&admission, Method::GET, "/slow", 2).await;
    // Within the grace a request past the mark is still taken (the burst cap is 100);
    // once the service has stayed at the mark past it, the next one is refused.
    eventually(
        Duration::from_secs(10),
        "a request past the mark refused",
        || async { server.get_as("/fast", None).await.status() == 503 },
    )
    .await;
    assert_refused(server.get_as("/fast", None).await, 503, "overloaded").await;
    // Order placement still has its reserve past the mark.
    let placing = server.hold(&admission, Method::POST, "/orders", 1).await;

    server.gate.add_permits(3);
    for request in held.into_iter().chain(placing) {
        assert_eq!(request.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(
        server.get_as("/fast", None).await.status(),
        200,
        "the count fell to half the mark: taken again"
    );
}

#[tokio::test]
async fn the_rate_limit_counts_per_token_subject_and_answers_429_with_retry_after() {
    let settings = RateLimitSettings {
        per_second: 1,
        burst: 3,
    };
    let server = serve(
        Admission::new(0, 0, platform::background::RequestLoad::never_yield())
            .with_rate_limit(settings, authenticator()),
    )
    .await;
    let alice = server.token("shopper-alice", Role::Shopper);
    for _ in 0..3 {
        assert_eq!(server.get_as("/fast", Some(&alice)).await.status(), 200);
    }
    assert_refused(
        server.get_as("/fast", Some(&alice)).await,
        429,
        "rate_limited",
    )
    .await;

    // A second token for the same subject shares the budget; another subject has its own.
    let alice_again = server.token("shopper-alice", Role::Shopper);
    assert_eq!(
        server.get_as("/fast", Some(&alice_again)).await.status(),
        429
    );
    let bob = server.token("shopper-bob", Role::Shopper);
    assert_eq!(server.get_as("/fast", Some(&bob)).await.status(), 200);

    // Headers a client chooses change nothing.
    let spoofed = server
        .client
        .get(server.url("/fast"))
        .bearer_auth(&alice)
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-real-ip", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 429);

    // Services calling each other are not limited here.
    let service = server.token("order", Role::Service);
    for _ in 0..10 {
        assert_eq!(server.get_as("/fast", Some(&service)).await.status(), 200);
    }
    // Probes never are; nor is anonymous traffic, which behind the edge all comes from
    // one address (the in-flight cap bounds it).
    for _ in 0..10 {
        assert_eq!(server.get_as("/health/live", None).await.status(), 200);
        assert_eq!(server.get_as("/fast", None).await.status(), 200);
    }
}
