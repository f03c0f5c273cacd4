use platform::testing::assert_problem;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn reports_are_accepted_without_fulfilment_and_published_in_order_for_the_order() {
    let app = spawn_app().await;
    let partner_id = Uuid::new_v4();
    let token = app.partner_token(partner_id);
    let (order_id, job_id) = app.offered_job(partner_id, "pickup").await;
    for (action, status) in [
        ("accept", "accepted"),
        ("picked-up", "picked_up"),
        ("delivered", "completed"),
    ] {
        let response = app
            .post_as(
                &token,
                &format!("/v1/portal/jobs/{job_id}/{action}"),
                &json!({}),
            )
            .await;
        assert_eq!(response.status(), 202, "{action}");
        let job: Value = response.json().await.unwrap();
        assert_eq!(job["status"], status);
    }
    let again = app
        .post_as(
            &token,
            &format!("/v1/portal/jobs/{job_id}/accept"),
            &json!({}),
        )
        .await;
    let problem = assert_problem(again, 409, "illegal_transition").await;
    assert_eq!(problem["current_status"], "completed");
    assert_eq!(problem["action"], "accept");

    let reported = app.reported(order_id, |read| read.len() >= 3).await;
    let seen: Vec<(&str, u64)> = reported
        .iter()
        .map(|e| (e.event_type.as_str(), e.aggregate_seq))
        .collect();
    assert_eq!(
        seen,
        [
            ("partner.JobAccepted", 1),
            ("partner.PickupReported", 2),
            ("partner.HubDeliveryReported", 3)
        ]
    );
    let accepted = reported[0].open::<events::partner::JobAccepted>().unwrap();
    assert_eq!(accepted.partner_id, partner_id.to_string());
    assert_eq!(accepted.job_id, job_id.to_string());

    let detail = app
        .json_as(&token, &format!("/v1/portal/jobs/{job_id}"))
        .await;
    let history: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "unassigned",
            "offered",
            "accepted",
            "picked_up",
            "completed"
        ]
    );
}

#[tokio::test]
async fn an_inspection_report_carries_the_answers_and_a_later_confirmation_does_not_move_the_job_back()
 {
    let app = spawn_app().await;
    let partner_id = Uuid::new_v4();
    let token = app.partner_token(partner_id);
    let (order_id, job_id) = app.offered_job(partner_id, "inspection").await;
    let picked = app
        .post_as(
            &token,
            &format!("/v1/portal/jobs/{job_id}/picked-up"),
            &json!({}),
        )
        .await;
    assert_problem(picked, 409, "illegal_transition").await;
    let early = app
        .post_as(
            &token,
            &format!("/v1/portal/jobs/{job_id}/inspection-report"),
            &json!({"answers": [{"question_id": Uuid::new_v4(), "option_id": Uuid::new_v4()}]}),
        )
        .await;
    assert_problem(early, 409, "illegal_transition").await;
    assert_eq!(
        app.post_as(
            &token,
            &format!("/v1/portal/jobs/{job_id}/accept"),
            &json!({})
        )
        .await
        .status(),
        202
    );
    let (question, option) = (Uuid::new_v4(), Uuid::new_v4());
    let response = app
        .post_as(
            &token,
            &format!("/v1/portal/jobs/{job_id}/inspection-report"),
            &json!({"answers": [{"question_id": question, "option_id": option}], "notes": "screen cracked"}),
        )
        .await;
    assert_eq!(response.status(), 202);
    // Fulfilment catches up with the acceptance after the report was made.
    app.fulfilment_says(
        order_id,
        &events::fulfilment::JobStatusChanged {
            order_id: order_id.to_string(),
            job_id: job_id.to_string(),
            partner_id: partner_id.to_string(),
            kind: "inspection".into(),
            status: "accepted".into(),
        },
    )
    .await;
    app.fulfilment_says(
        order_id,
        &events::fulfilment::JobStatusChanged {
            order_id: order_id.to_string(),
            job_id: job_id.to_string(),
            partner_id: partner_id.to_string(),
            kind: "inspection".into(),
            status: "completed".into(),
        },
    )
    .await;
    let path = format!("/v1/portal/jobs/{job_id}");
    platform::testing::eventually(crate::helpers::SETTLE, "the job completes", || async {
        app.json_as(&token, &path).await["status"] == "completed"
    })
    .await;
    let detail = app.json_as(&token, &path).await;
    let statuses: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["status"].as_str().unwrap())
        .collect();
    // The late "accepted" changed nothing: the partner had already moved on.
    assert_eq!(
        statuses,
        [
            "unassigned",
            "offered",
            "accepted",
            "inspection_reported",
            "completed"
        ]
    );

    let reported = app.reported(order_id, |read| read.len() >= 2).await;
    let report = reported[1]
        .open::<events::partner::InspectionReported>()
        .unwrap();
    assert_eq!(report.answers[0].question_id, question.to_string());
    assert_eq!(report.answers[0].option_id, option.to_string());
    assert_eq!(report.notes, "screen cracked");
}
