//! Re-pricing against a stand-in for quote that answers what each test tells it to.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use events::partner;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Options, TestApp, spawn_app_with};

/// What the stub last received: path, `Authorization` header, JSON body.
type Received = (String, Option<String>, Value);

/// Answers `POST /v1/quotes/{id}/requote` with the current (status, body), and remembers
/// the last request it got.
#[derive(Clone, Default)]
struct QuoteStub {
    answer: Arc<Mutex<(u16, Value)>>,
    hits: Arc<AtomicUsize>,
    last: Arc<Mutex<Option<Received>>>,
}

impl QuoteStub {
    fn start(status: u16, body: Value) -> (Self, String) {
        let stub = Self::default();
        *stub.answer.lock().unwrap() = (status, body);
        let state = stub.clone();
        let server = HttpServer::new(move || {
            App::new().app_data(web::Data::new(state.clone())).route(
                    "/v1/quotes/{id}/requote",
                    web::post().to(
                        |request: HttpRequest,
                         body: web::Json<Value>,
                         stub: web::Data<QuoteStub>| async move {
                            stub.hits.fetch_add(1, Ordering::SeqCst);
                            let auth = request
                                .headers()
                                .get("authorization")
                                .and_then(|value| value.to_str().ok())
                                .map(str::to_owned);
                            *stub.last.lock().unwrap() =
                                Some((request.path().to_owned(), auth, body.into_inner()));
                            let (status, answer) = stub.answer.lock().unwrap().clone();
                            HttpResponse::build(
                                actix_web::http::StatusCode::from_u16(status).unwrap(),
                            )
                            .json(answer)
                        },
                    ),
                )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
        tokio::spawn(server.run());
        (stub, url)
    }
}

/// A pickup accepted, picked up and delivered to the hub, and the inspection accepted and
/// reported by the repair partner; returns the order id and the inspection job.
async fn reported_inspection(app: &TestApp, pincode: &str) -> (Uuid, Value) {
    let repair = app.partner("repair", &[pincode], 10).await;
    let logistics = app.partner("logistics", &[pincode], 10).await;
    let order_id = app.confirmed_order(pincode).await;
    let pickup = app
        .wait_for_job(order_id, "pickup", "the pickup is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    let (order, job_id) = (
        order_id.to_string(),
        pickup["id"].as_str().unwrap().to_owned(),
    );
    let partner_id = logistics.to_string();
    app.partner_says(
        &pickup,
        &partner::JobAccepted {
            order_id: order.clone(),
            job_id: job_id.clone(),
            partner_id: partner_id.clone(),
        },
    )
    .await;
    app.partner_says(
        &pickup,
        &partner::PickupReported {
            order_id: order.clone(),
            job_id: job_id.clone(),
            partner_id: partner_id.clone(),
        },
    )
    .await;
    app.partner_says(
        &pickup,
        &partner::HubDeliveryReported {
            order_id: order.clone(),
            job_id,
            partner_id,
        },
    )
    .await;
    let inspection = app
        .wait_for_job(order_id, "inspection", "the inspection is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    let inspection_id = inspection["id"].as_str().unwrap().to_owned();
    app.partner_says(
        &inspection,
        &partner::JobAccepted {
            order_id: order.clone(),
            job_id: inspection_id.clone(),
            partner_id: repair.to_string(),
        },
    )
    .await;
    app.partner_says(
        &inspection,
        &partner::InspectionReported {
            order_id: order,
            job_id: inspection_id,
            partner_id: repair.to_string(),
            answers: vec![partner::Answer {
                question_id: "screen".into(),
                option_id: "cracked".into(),
            }],
            notes: "cracked screen".into(),
        },
    )
    .await;
    (order_id, inspection)
}

#[tokio::test]
async fn quote_re_prices_an_inspected_device_and_the_inspection_completes_with_the_final_price() {
    let revised = json!({
        "quote_id": Uuid::new_v4(),
        "original_price": {"amount_minor": 1_000_000, "currency": "INR"},
        "revised_price": {"amount_minor": 750_000, "currency": "INR"},
        "breakdown": [],
        "changes": []
    });
    let (stub, quote_url) = QuoteStub::start(200, revised);
    let app = spawn_app_with(Options {
        quote_url: Some(quote_url),
        ..Options::default()
    })
    .await;
    let (order_id, _) = reported_inspection(&app, "560010").await;
    app.wait_for_job(order_id, "inspection", "the inspection completes", |job| {
        job["status"] == "completed"
    })
    .await;

    let (path, auth, body) = stub.last.lock().unwrap().clone().unwrap();
    assert!(path.ends_with("/requote"), "{path}");
    assert!(auth.unwrap().starts_with("Bearer "));
    assert_eq!(
        body,
        json!({"answers": [{"question_id": "screen", "option_id": "cracked"}]})
    );
    let published = app
        .published(order_id, |read| {
            read.iter()
                .any(|e| e.event_type == "fulfilment.InspectionCompleted")
        })
        .await;
    let completed = published
        .iter()
        .find(|e| e.event_type == "fulfilment.InspectionCompleted")
        .unwrap()
        .open::<events::fulfilment::InspectionCompleted>()
        .unwrap();
    let price = completed.final_price.unwrap();
    assert_eq!(
        (price.amount_minor, price.currency.as_str()),
        (750_000, "INR")
    );
    assert_eq!(completed.notes, "cracked screen");
    let seqs: Vec<u64> = published.iter().map(|e| e.aggregate_seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn answers_quote_refuses_stop_the_retries_until_an_admin_asks_again() {
    let refusal = json!({"type": "about:blank", "status": 422, "code": "invalid_answers"});
    let (stub, quote_url) = QuoteStub::start(422, refusal);
    let app = spawn_app_with(Options {
        quote_url: Some(quote_url),
        ..Options::default()
    })
    .await;
    let (order_id, inspection) = reported_inspection(&app, "560011").await;
    let job = app
        .wait_for_job(order_id, "inspection", "re-pricing is refused", |job| {
            job["requote"]["failed"] == true
        })
        .await;
    assert_eq!(job["status"], "inspection_reported");
    assert_eq!(job["requote"]["attempts"], 1);
    assert!(job["requote"]["next_attempt_at"].is_null());
    assert!(
        job["requote"]["last_error"]
            .as_str()
            .unwrap()
            .contains("invalid_answers"),
        "{job}"
    );
    assert_eq!(stub.hits.load(Ordering::SeqCst), 1, "quote was asked once");
    // No attempt is scheduled: `next_attempt_at` is null above, so the worker never picks
    // it up again on its own.

    *stub.answer.lock().unwrap() = (
        200,
        json!({"revised_price": {"amount_minor": 900_000, "currency": "INR"}}),
    );
    let retry = app
        .post_json(
            &app.admin_token,
            &format!(
                "/v1/admin/jobs/{}/requote",
                inspection["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(retry.status(), 200);
    app.wait_for_job(order_id, "inspection", "completed after the retry", |job| {
        job["status"] == "completed"
    })
    .await;
    let published = app
        .published(order_id, |read| {
            read.iter()
                .any(|e| e.event_type == "fulfilment.InspectionCompleted")
        })
        .await;
    let completed = published
        .iter()
        .find(|e| e.event_type == "fulfilment.InspectionCompleted")
        .unwrap()
        .open::<events::fulfilment::InspectionCompleted>()
        .unwrap();
    assert_eq!(completed.final_price.unwrap().amount_minor, 900_000);
}
