use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac};
use platform::testing::{assert_problem, eventually};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::helpers::{SETTLE, WebhookTargets, spawn_app, spawn_app_with};

/// What a receiver saw: signature headers and the raw body, and what it answered.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    answered: u16,
}

/// A partner's endpoint that answers 500 to its first `failures` requests, then 200.
async fn flaky_receiver(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let sink = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let (sink, count) = (sink.clone(), count.clone());
        App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
            let (sink, count) = (sink.clone(), count.clone());
            async move {
                let answered = if count.fetch_add(1, Ordering::SeqCst) < failures {
                    500
                } else {
                    200
                };
                let header = |name: &str| {
                    request
                        .headers()
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                sink.lock().unwrap().push(Received {
                    id: header("recommerce-webhook-id"),
                    timestamp: header("recommerce-webhook-timestamp"),
                    signature: header("recommerce-webhook-signature"),
                    body: body.to_vec(),
                    answered,
                });
                HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap())
                    .finish()
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/recommerce"), seen)
}

fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_one_signed_delivery_and_the_log_shows_three_attempts() {
    let app = spawn_app().await;
    let partner_id = Uuid::new_v4();
    let token = app.partner_token(partner_id);
    let (url, seen) = flaky_receiver(2).await;
    let response = app
        .post_as(&token, "/v1/portal/webhooks", &json!({"url": url}))
        .await;
    assert_eq!(response.status(), 201);
    let webhook: Value = response.json().await.unwrap();
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    let listed: Value = app.json_as(&token, "/v1/portal/webhooks").await;
    assert!(
        listed["items"][0]["secret"].is_null(),
        "the secret is shown only once"
    );

    let (order_id, job_id) = app.offered_job(partner_id, "pickup").await;
    eventually(SETTLE, "the delivery succeeds", || async {
        let list = app.json_as(&token, "/v1/portal/webhooks/deliveries").await;
        list["items"][0]["status"] == "delivered"
    })
    .await;
    let list = app.json_as(&token, "/v1/portal/webhooks/deliveries").await;
    assert_eq!(list["total"], 1, "one delivery for one assignment");
    let delivery_id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let detail = app
        .json_as(
            &token,
            &format!("/v1/portal/webhooks/deliveries/{delivery_id}"),
        )
        .await;
    let codes: Vec<i64> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);

    let received = seen.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let successes: Vec<&Received> = received.iter().filter(|r| r.answered == 200).collect();
    assert_eq!(successes.len(), 1, "delivered exactly once as a success");
    for attempt in &received {
        assert_eq!(
            attempt.id, delivery_id,
            "every attempt carries the delivery's id"
        );
        assert_eq!(
            attempt.signature,
            expected_signature(&secret, &attempt.timestamp, &attempt.body)
        );
        assert_ne!(
            attempt.signature,
            expected_signature("wrong-secret", &attempt.timestamp, &attempt.body)
        );
    }
    let payload: Value = serde_json::from_slice(&successes[0].body).unwrap();
    assert_eq!(payload["id"], delivery_id);
    assert_eq!(payload["type"], "job.assigned");
    assert!(payload["occurred_at"].is_string());
    assert_eq!(payload["job"]["id"], job_id.to_string());
    assert_eq!(payload["job"]["order_id"], order_id.to_string());
    assert_eq!(payload["job"]["kind"], "pickup");
    assert_eq!(payload["job"]["status"], "offered");
    assert_eq!(payload["job"]["pincode"], "560001");
    assert_eq!(payload["job"]["slot_date"], "2026-12-01");
    assert_eq!(payload["job"]["slot_window"], "morning");
    let delivered = &detail["attempts"][2];
    assert_eq!(delivered["attempt"], 3);
    assert!(delivered["error"].is_null());
    assert!(detail["attempts"][0]["error"].is_string());
    assert!(delivered["duration_ms"].is_i64());
    assert_eq!(detail["status"], "delivered");

    // A manual redelivery sends it again and logs a fourth attempt.
    let response = app
        .post_as(
            &token,
            &format!("/v1/portal/webhooks/deliveries/{delivery_id}/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 202);
    eventually(SETTLE, "the redelivery is logged", || async {
        let detail = app
            .json_as(
                &token,
                &format!("/v1/portal/webhooks/deliveries/{delivery_id}"),
            )
            .await;
        detail["attempts"].as_array().unwrap().len() == 4 && detail["status"] == "delivered"
    })
    .await;
    assert_eq!(seen.lock().unwrap().len(), 4);

    // After a rotation deliveries are signed with the new secret only.
    let rotated: Value = app
        .post_as(
            &token,
            &format!(
                "/v1/portal/webhooks/{}/rotate-secret",
                webhook["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let response = app
        .post_as(
            &token,
            &format!("/v1/portal/webhooks/deliveries/{delivery_id}/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 202);
    eventually(SETTLE, "the receiver gets a fifth request", || async {
        seen.lock().unwrap().len() == 5
    })
    .await;
    let fifth = seen.lock().unwrap()[4].clone();
    assert_eq!(
        fifth.signature,
        expected_signature(&new_secret, &fifth.timestamp, &fifth.body)
    );
    assert_ne!(
        fifth.signature,
        expected_signature(&secret, &fifth.timestamp, &fifth.body)
    );
    // Admins see the same log.
    let admin = app
        .json_as(
            &app.admin_token,
            &format!("/v1/portal/admin/webhooks/deliveries?partner_id={partner_id}"),
        )
        .await;
    assert_eq!(crate::helpers::ids(&admin), [delivery_id]);
}

#[tokio::test]
async fn webhook_urls_that_are_not_public_https_are_refused_where_production_rules_apply() {
    let app = spawn_app_with(WebhookTargets::Production).await;
    let token = app.partner_token(Uuid::new_v4());
    let refused = |url: &'static str, reason: &'static str| (url, reason);
    for (url, reason) in [
        refused("https://127.0.0.1:9000/hook", "private_target"),
        refused("https://localhost/hook", "private_target"),
        refused("https://169.254.169.254/latest/meta-data", "private_target"),
        refused("https://10.0.0.5/hook", "private_target"),
        refused("https://[::1]/hook", "private_target"),
        refused("https://[64:ff9b::a00:5]/hook", "private_target"),
        refused("https://198.18.0.1/hook", "private_target"),
        // Egress reaches port 443 only: an http webhook could never be delivered.
        refused("http://hooks.partner.example/recommerce", "https_required"),
        refused("http://127.0.0.1:9000/hook", "https_required"),
        refused("file:///etc/passwd", "unsupported_scheme"),
        refused("ftp://partner.example/hook", "unsupported_scheme"),
        refused("not a url", "invalid_url"),
    ] {
        let response = app
            .post_as(&token, "/v1/portal/webhooks", &json!({"url": url}))
            .await;
        let problem = assert_problem(response, 422, "webhook_url_refused").await;
        assert_eq!(problem["reason"], reason, "{url}: {problem}");
    }
    let response = app
        .post_as(
            &token,
            "/v1/portal/webhooks",
            &json!({"url": "https://hooks.partner.example/recommerce"}),
        )
        .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn the_dev_profile_calls_a_receiver_on_this_machine_over_http() {
    let app = spawn_app_with(WebhookTargets::DevProfile).await;
    let partner_id = Uuid::new_v4();
    let token = app.partner_token(partner_id);
    let (url, seen) = flaky_receiver(0).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let response = app
        .post_as(&token, "/v1/portal/webhooks", &json!({"url": url}))
        .await;
    assert_eq!(response.status(), 201);
    app.offered_job(partner_id, "pickup").await;
    eventually(SETTLE, "the local receiver gets the delivery", || async {
        let list = app.json_as(&token, "/v1/portal/webhooks/deliveries").await;
        list["items"][0]["status"] == "delivered"
    })
    .await;
    assert_eq!(seen.lock().unwrap().len(), 1);
}
