use events::partner;
use platform::auth::Role;
use platform::testing::assert_problem;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_admin_hands_a_queued_job_to_an_eligible_partner_and_is_told_why_others_cannot_take_it()
{
    let app = spawn_app().await;
    let order_id = app.confirmed_order("302001").await;
    let job = app
        .wait_for_job(order_id, "pickup", "nobody serves the pincode yet", |job| {
            job["status"] == "unassigned"
        })
        .await;
    let assign = format!("/v1/admin/jobs/{}/assign", job["id"].as_str().unwrap());

    let elsewhere = app.partner("logistics", &["110001"], 5).await;
    let repair = app.partner("repair", &["302001"], 5).await;
    for (partner_id, why) in [
        (elsewhere, "pincode"),
        (repair, "kind"),
        (Uuid::new_v4(), "no such partner"),
    ] {
        let body = assert_problem(
            app.post_json(
                &app.admin_token,
                &assign,
                &json!({"partner_id": partner_id}),
            )
            .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "partner_id");
        assert!(
            body["errors"][0]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
    }
    let partner = app.partner("logistics", &["110001"], 5).await;
    assert_problem(
        app.post_json(
            &app.partner_token(partner),
            &assign,
            &json!({"partner_id": partner}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_json(&app.admin_token, &assign, &json!({"partner": partner}))
            .await,
        422,
        "invalid_body",
    )
    .await;
    assert_problem(
        app.post_json(
            &app.admin_token,
            &format!("/v1/admin/jobs/{}/assign", Uuid::new_v4()),
            &json!({"partner_id": partner}),
        )
        .await,
        404,
        "job_not_found",
    )
    .await;

    // Serving the pincode but paused, it cannot; resumed, it can (resuming may already
    // bring the automatic offer: assigning the offer's holder again changes nothing).
    let response = app
        .client
        .patch(app.url(&format!("/v1/admin/partners/{partner}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"pincodes": ["110001", "302001"], "active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let paused = assert_problem(
        app.post_json(&app.admin_token, &assign, &json!({"partner_id": partner}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert!(
        paused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("paused")
    );
    let response = app
        .client
        .patch(app.url(&format!("/v1/admin/partners/{partner}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .post_json(&app.admin_token, &assign, &json!({"partner_id": partner}))
        .await;
    assert_eq!(response.status(), 200);
    let assigned: Value = response.json().await.unwrap();
    assert_eq!(assigned["status"], "offered");
    assert_eq!(assigned["partner_id"], partner.to_string());
    let published = app
        .published(order_id, |read| {
            read.iter()
                .any(|e| e.event_type == "fulfilment.PartnerAssigned")
        })
        .await;
    let offer = published
        .iter()
        .find(|e| e.event_type == "fulfilment.PartnerAssigned")
        .unwrap()
        .open::<events::fulfilment::PartnerAssigned>()
        .unwrap();
    assert_eq!(offer.partner_id, partner.to_string());

    // Accepted, the job is no longer the admin's to move; nor is it once cancelled.
    app.partner_says(
        &assigned,
        &partner::JobAccepted {
            order_id: order_id.to_string(),
            job_id: assigned["id"].as_str().unwrap().into(),
            partner_id: partner.to_string(),
        },
    )
    .await;
    app.wait_for_job(order_id, "pickup", "accepted", |job| {
        job["status"] == "accepted"
    })
    .await;
    let refused = assert_problem(
        app.post_json(&app.admin_token, &assign, &json!({"partner_id": partner}))
            .await,
        409,
        "illegal_transition",
    )
    .await;
    assert_eq!(refused["current_status"], "accepted");
    assert_eq!(refused["action"], "assign");
    let requote = assert_problem(
        app.post_json(
            &app.admin_token,
            &format!(
                "/v1/admin/jobs/{}/requote",
                assigned["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await,
        409,
        "illegal_transition",
    )
    .await;
    assert_eq!(requote["action"], "requote");
}

#[tokio::test]
async fn a_partner_sees_its_jobs_history_without_the_ids_of_partners_that_held_it_before() {
    let app = spawn_app().await;
    let first = app.partner("logistics", &["226001"], 5).await;
    let order_id = app.confirmed_order("226001").await;
    let job = app
        .wait_for_job(order_id, "pickup", "offered to the first", |job| {
            job["partner_id"] == first.to_string()
        })
        .await;
    let job_id = job["id"].as_str().unwrap().to_owned();
    let second = app.partner("logistics", &["226001"], 5).await;
    app.partner_says(
        &job,
        &partner::JobDeclined {
            order_id: order_id.to_string(),
            job_id: job_id.clone(),
            partner_id: first.to_string(),
            reason: "too far".into(),
        },
    )
    .await;
    app.wait_for_job(order_id, "pickup", "offered to the second", |job| {
        job["partner_id"] == second.to_string()
    })
    .await;

    let path = format!("/v1/admin/jobs/{job_id}/history");
    let full = app.admin_json(&path).await;
    let holders: Vec<&Value> = full["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["partner_id"])
        .collect();
    assert!(holders.contains(&&json!(first.to_string())));
    let reasons: Vec<&str> = full["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|reason| reason.contains("too far")),
        "{full}"
    );

    let response = app.get_as(&app.partner_token(second), &path).await;
    assert_eq!(response.status(), 200);
    let seen = response.text().await.unwrap();
    assert!(!seen.contains(&first.to_string()), "{seen}");
    assert!(seen.contains(&second.to_string()));
    // The first partner no longer holds it: not found, like any job it never had.
    assert_problem(
        app.get_as(&app.partner_token(first), &path).await,
        404,
        "job_not_found",
    )
    .await;
    assert_problem(
        app.get_as(
            &app.partner_token(first),
            &format!("/v1/admin/jobs/{job_id}"),
        )
        .await,
        404,
        "job_not_found",
    )
    .await;
    // Writes stay with admins.
    let patch = app
        .client
        .patch(app.url(&format!("/v1/admin/partners/{second}")))
        .bearer_auth(app.partner_token(second))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_problem(patch, 403, "forbidden").await;
    assert_problem(
        app.get_as(&app.token(Role::Shopper), &path).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn the_service_stops_within_its_grace_period_and_then_refuses_connections() {
    let app = spawn_app().await;
    let address = app.address.clone();
    platform::testing::assert_stops_within_grace(&address, app.stop()).await;
}
