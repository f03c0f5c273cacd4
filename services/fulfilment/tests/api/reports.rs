use events::partner;
use platform::testing::eventually;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{SETTLE, TestApp, spawn_app};

fn accepted(job: &Value, partner_id: Uuid) -> partner::JobAccepted {
    partner::JobAccepted {
        order_id: job["order_id"].as_str().unwrap().into(),
        job_id: job["id"].as_str().unwrap().into(),
        partner_id: partner_id.to_string(),
    }
}

async fn offered_pickup(app: &TestApp, pincode: &str) -> (Uuid, Uuid, Value) {
    let partner_id = app.partner("logistics", &[pincode], 10).await;
    let order_id = app.confirmed_order(pincode).await;
    let job = app
        .wait_for_job(order_id, "pickup", "the pickup is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    (order_id, partner_id, job)
}

#[tokio::test]
async fn accepting_a_pickup_schedules_it_and_a_hub_delivery_starts_an_inspection_with_a_repair_partner()
 {
    let app = spawn_app().await;
    let repair = app.partner("repair", &["560001"], 10).await;
    let (order_id, logistics, job) = offered_pickup(&app, "560001").await;
    app.partner_says(&job, &accepted(&job, logistics)).await;
    let ids = |job: &Value| {
        (
            job["order_id"].as_str().unwrap().to_owned(),
            job["id"].as_str().unwrap().to_owned(),
            logistics.to_string(),
        )
    };
    let (order, job_id, partner_id) = ids(&job);
    app.partner_says(
        &job,
        &partner::PickupReported {
            order_id: order.clone(),
            job_id: job_id.clone(),
            partner_id: partner_id.clone(),
        },
    )
    .await;
    app.partner_says(
        &job,
        &partner::HubDeliveryReported {
            order_id: order,
            job_id,
            partner_id,
        },
    )
    .await;

    let inspection = app
        .wait_for_job(order_id, "inspection", "an inspection is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    assert_eq!(inspection["partner_id"], repair.to_string());
    let pickup = app
        .wait_for_job(order_id, "pickup", "the pickup is done", |job| {
            job["status"] == "completed"
        })
        .await;
    assert_eq!(pickup["partner_id"], logistics.to_string());

    let published = app.published(order_id, |read| read.len() >= 9).await;
    let types: Vec<&str> = published
        .iter()
        .map(|e| e.event_type.trim_start_matches("fulfilment."))
        .collect();
    assert_eq!(
        types,
        [
            "JobCreated",
            "PartnerAssigned",
            "JobStatusChanged",
            "PickupScheduled",
            "JobStatusChanged",
            "DevicePickedUp",
            "JobStatusChanged",
            "JobCreated",
            "PartnerAssigned"
        ]
    );
    let seqs: Vec<u64> = published.iter().map(|e| e.aggregate_seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "no gaps, no repeats"
    );
    let scheduled = published
        .iter()
        .find(|e| e.event_type == "fulfilment.PickupScheduled")
        .unwrap()
        .open::<events::fulfilment::PickupScheduled>()
        .unwrap();
    assert_eq!(scheduled.slot_window, "morning");
    assert_eq!(scheduled.partner_id, logistics.to_string());
}

#[tokio::test]
async fn a_declined_job_goes_to_the_next_partner_and_reports_from_the_decliner_are_ignored() {
    let app = spawn_app().await;
    let (order_id, first, job) = offered_pickup(&app, "700001").await;
    let second = app.partner("logistics", &["700001"], 10).await;
    app.partner_says(
        &job,
        &partner::JobDeclined {
            order_id: order_id.to_string(),
            job_id: job["id"].as_str().unwrap().into(),
            partner_id: first.to_string(),
            reason: "no riders".into(),
        },
    )
    .await;
    let job = app
        .wait_for_job(order_id, "pickup", "offered to the second", |job| {
            job["partner_id"] == second.to_string()
        })
        .await;
    // The first partner, no longer holding it, cannot accept it.
    app.partner_says(&job, &accepted(&job, first)).await;
    app.partner_says(&job, &accepted(&job, second)).await;
    let job = app
        .wait_for_job(order_id, "pickup", "accepted", |job| {
            job["status"] == "accepted"
        })
        .await;
    assert_eq!(job["partner_id"], second.to_string());
}

#[tokio::test]
async fn a_cancelled_order_cancels_its_open_job_and_a_refused_price_starts_a_return() {
    let app = spawn_app().await;
    let (order_id, _, job) = offered_pickup(&app, "500001").await;
    app.says(
        "order",
        order_id,
        &events::order::OrderCancelled {
            order_id: order_id.to_string(),
            cancelled_by: "shopper".into(),
            reason: String::new(),
        },
    )
    .await;
    app.wait_for_job(order_id, "pickup", "the job is cancelled", |job| {
        job["status"] == "cancelled"
    })
    .await;
    let published = app
        .published(order_id, |read| {
            read.iter()
                .any(|e| e.event_type == "fulfilment.JobCancelled")
        })
        .await;
    let cancelled = published
        .last()
        .unwrap()
        .open::<events::fulfilment::JobCancelled>()
        .unwrap();
    assert_eq!(cancelled.job_id, job["id"].as_str().unwrap());

    let other = app.confirmed_order("500001").await;
    app.wait_for_job(other, "pickup", "offered", |job| job["status"] == "offered")
        .await;
    app.says(
        "order",
        other,
        &events::order::RevisedPriceRefused {
            order_id: other.to_string(),
            return_to: None,
        },
    )
    .await;
    let back = app
        .wait_for_job(other, "return", "a return is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    assert_eq!(back["address"], "12 MG Road");
}

#[tokio::test]
async fn an_inspection_report_waits_for_quote_and_keeps_retrying_while_it_is_down() {
    let app = spawn_app().await;
    let repair = app.partner("repair", &["560002"], 10).await;
    let (order_id, logistics, job) = offered_pickup(&app, "560002").await;
    let (order, job_id, partner_id) = (
        order_id.to_string(),
        job["id"].as_str().unwrap().to_owned(),
        logistics.to_string(),
    );
    app.partner_says(&job, &accepted(&job, logistics)).await;
    app.partner_says(
        &job,
        &partner::PickupReported {
            order_id: order.clone(),
            job_id: job_id.clone(),
            partner_id: partner_id.clone(),
        },
    )
    .await;
    app.partner_says(
        &job,
        &partner::HubDeliveryReported {
            order_id: order.clone(),
            job_id,
            partner_id,
        },
    )
    .await;
    let inspection = app
        .wait_for_job(order_id, "inspection", "inspection offered", |job| {
            job["status"] == "offered"
        })
        .await;
    app.partner_says(&inspection, &accepted(&inspection, repair))
        .await;
    app.partner_says(
        &inspection,
        &partner::InspectionReported {
            order_id: order,
            job_id: inspection["id"].as_str().unwrap().into(),
            partner_id: repair.to_string(),
            answers: vec![partner::Answer {
                question_id: Uuid::new_v4().to_string(),
                option_id: Uuid::new_v4().to_string(),
            }],
            notes: "scratched".into(),
        },
    )
    .await;
    eventually(SETTLE, "three re-pricing attempts", || async {
        let jobs = app.jobs_of(order_id).await;
        jobs.iter().any(|job| {
            job["kind"] == "inspection" && job["requote"]["attempts"].as_i64().unwrap() >= 3
        })
    })
    .await;
    let jobs = app.jobs_of(order_id).await;
    let inspection = jobs.iter().find(|job| job["kind"] == "inspection").unwrap();
    assert_eq!(inspection["status"], "inspection_reported");
    assert_eq!(inspection["notes"], "scratched");
    assert!(
        inspection["requote"]["last_error"]
            .as_str()
            .unwrap()
            .contains("unavailable")
    );
    assert!(
        !inspection["requote"]["next_attempt_at"].is_null(),
        "still retrying"
    );
}

#[tokio::test]
async fn a_return_is_accepted_picked_up_and_delivered_back_and_ill_fitting_reports_are_only_logged()
{
    let app = spawn_app().await;
    let (order_id, logistics, _) = offered_pickup(&app, "380001").await;
    app.says(
        "order",
        order_id,
        &events::order::RevisedPriceRefused {
            order_id: order_id.to_string(),
            return_to: Some(events::order::PickupDetails {
                address: "4 Ashram Road".into(),
                pincode: "380001".into(),
                slot_date: String::new(),
                slot_window: String::new(),
            }),
        },
    )
    .await;
    let back = app
        .wait_for_job(order_id, "return", "the return is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    assert_eq!(back["address"], "4 Ashram Road");
    assert_eq!(back["partner_id"], logistics.to_string());
    let (order, job_id, partner_id) = (
        order_id.to_string(),
        back["id"].as_str().unwrap().to_owned(),
        logistics.to_string(),
    );
    // Delivered before it was even accepted: does not fit, acknowledged and logged.
    app.partner_says(
        &back,
        &partner::ReturnDeliveryReported {
            order_id: order.clone(),
            job_id: job_id.clone(),
            partner_id: partner_id.clone(),
        },
    )
    .await;
    app.partner_says(&back, &accepted(&back, logistics)).await;
    app.partner_says(
        &back,
        &partner::PickupReported {
            order_id: order.clone(),
            job_id: job_id.clone(),
            partner_id: partner_id.clone(),
        },
    )
    .await;
    app.partner_says(
        &back,
        &partner::ReturnDeliveryReported {
            order_id: order,
            job_id: job_id.clone(),
            partner_id,
        },
    )
    .await;
    app.wait_for_job(order_id, "return", "the return is completed", |job| {
        job["status"] == "completed"
    })
    .await;

    // Pickup: created, assigned (1, 2). Return: created, assigned, accepted, picked up,
    // completed with ReturnCompleted — no PickupScheduled or DevicePickedUp for a return.
    let published = app.published(order_id, |read| read.len() >= 8).await;
    let types: Vec<&str> = published
        .iter()
        .map(|e| e.event_type.trim_start_matches("fulfilment."))
        .collect();
    assert_eq!(
        types,
        [
            "JobCreated",
            "PartnerAssigned",
            "JobCreated",
            "PartnerAssigned",
            "JobStatusChanged",
            "JobStatusChanged",
            "JobStatusChanged",
            "ReturnCompleted"
        ]
    );
    let seqs: Vec<u64> = published.iter().map(|e| e.aggregate_seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<u64>>());
    let statuses: Vec<String> = published
        .iter()
        .filter(|e| e.event_type == "fulfilment.JobStatusChanged")
        .map(|e| {
            e.open::<events::fulfilment::JobStatusChanged>()
                .unwrap()
                .status
        })
        .collect();
    assert_eq!(statuses, ["accepted", "picked_up", "completed"]);
    let done = published
        .last()
        .unwrap()
        .open::<events::fulfilment::ReturnCompleted>()
        .unwrap();
    assert_eq!(done.job_id, job_id);

    let dead = app.admin_json("/v1/admin/jobs/dead-letters").await;
    assert_eq!(dead["items"].as_array().unwrap().len(), 0, "{dead}");
}
