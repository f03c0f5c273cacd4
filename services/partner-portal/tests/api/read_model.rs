use platform::testing::{assert_problem, eventually};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{SETTLE, ids, spawn_app};

#[tokio::test]
async fn a_declined_job_stays_with_the_decliner_until_fulfilment_gives_it_to_another_partner() {
    let app = spawn_app().await;
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let (first_token, second_token) = (app.partner_token(first), app.partner_token(second));
    app.webhook(&first_token, "http://127.0.0.1:9/first").await;
    app.webhook(&second_token, "http://127.0.0.1:9/second")
        .await;
    let (order_id, job_id) = app.offered_job(first, "pickup").await;
    let path = format!("/v1/portal/jobs/{job_id}");

    let response = app
        .post_as(
            &first_token,
            &format!("{path}/decline"),
            &json!({"reason": "no rider free"}),
        )
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(app.json_as(&first_token, &path).await["status"], "declined");
    let accept = app
        .post_as(&first_token, &format!("{path}/accept"), &json!({}))
        .await;
    let problem = assert_problem(accept, 409, "illegal_transition").await;
    assert_eq!(problem["current_status"], "declined");
    let declined = app.reported(order_id, |read| !read.is_empty()).await;
    let event = declined[0].open::<events::partner::JobDeclined>().unwrap();
    assert_eq!(event.reason, "no rider free");
    assert_eq!(declined[0].aggregate_seq, 1);

    app.fulfilment_says(
        order_id,
        &events::fulfilment::PartnerAssigned {
            order_id: order_id.to_string(),
            job_id: job_id.to_string(),
            partner_id: second.to_string(),
            kind: "pickup".into(),
        },
    )
    .await;
    eventually(SETTLE, "the second partner holds the offer", || async {
        let response = app.get_as(&second_token, &path).await;
        response.status() == 200 && response.json::<Value>().await.unwrap()["status"] == "offered"
    })
    .await;
    assert_problem(app.get_as(&first_token, &path).await, 404, "job_not_found").await;
    assert!(ids(&app.json_as(&first_token, "/v1/portal/jobs").await).is_empty());
    assert_eq!(
        app.delivery_types(&first_token).await,
        ["job.assigned", "job.withdrawn"]
    );
    assert_eq!(app.delivery_types(&second_token).await, ["job.assigned"]);

    // Fulfilment takes it back (no partner left): the second partner loses it too.
    app.fulfilment_says(
        order_id,
        &events::fulfilment::JobUnassigned {
            order_id: order_id.to_string(),
            job_id: job_id.to_string(),
            reason: "no eligible partner".into(),
        },
    )
    .await;
    eventually(SETTLE, "the job leaves the second partner", || async {
        app.get_as(&second_token, &path).await.status() == 404
    })
    .await;
    assert_eq!(
        app.delivery_types(&second_token).await,
        ["job.assigned", "job.withdrawn"]
    );
    let admin = app
        .json_as(&app.admin_token, &format!("/v1/portal/admin/jobs/{job_id}"))
        .await;
    assert_eq!(admin["status"], "unassigned");
    assert!(admin["partner_id"].is_null());
    let statuses: Vec<&str> = admin["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["unassigned", "offered", "declined", "offered", "unassigned"]
    );
}

#[tokio::test]
async fn a_cancelled_job_tells_its_partner_and_takes_no_more_reports() {
    let app = spawn_app().await;
    let partner_id = Uuid::new_v4();
    let token = app.partner_token(partner_id);
    app.webhook(&token, "http://127.0.0.1:9/hook").await;
    let (order_id, job_id) = app.offered_job(partner_id, "pickup").await;
    let path = format!("/v1/portal/jobs/{job_id}");
    assert_eq!(
        app.post_as(&token, &format!("{path}/accept"), &json!({}))
            .await
            .status(),
        202
    );
    // Fulfilment confirms the acceptance: nothing the partner did not know, so no webhook.
    app.fulfilment_says(
        order_id,
        &events::fulfilment::JobStatusChanged {
            order_id: order_id.to_string(),
            job_id: job_id.to_string(),
            partner_id: partner_id.to_string(),
            kind: "pickup".into(),
            status: "accepted".into(),
        },
    )
    .await;
    app.fulfilment_says(
        order_id,
        &events::fulfilment::JobCancelled {
            order_id: order_id.to_string(),
            job_id: job_id.to_string(),
            reason: "the shopper cancelled".into(),
        },
    )
    .await;
    eventually(SETTLE, "the job is cancelled", || async {
        app.json_as(&token, &path).await["status"] == "cancelled"
    })
    .await;
    assert_eq!(
        app.delivery_types(&token).await,
        ["job.assigned", "job.cancelled"]
    );
    let picked = app
        .post_as(&token, &format!("{path}/picked-up"), &json!({}))
        .await;
    let problem = assert_problem(picked, 409, "illegal_transition").await;
    assert_eq!(problem["current_status"], "cancelled");
    assert_eq!(problem["action"], "picked-up");
    let listed = app
        .json_as(&token, "/v1/portal/jobs?status=cancelled&kind=pickup")
        .await;
    assert_eq!(ids(&listed), [job_id.to_string()]);
    assert!(ids(&app.json_as(&token, "/v1/portal/jobs?status=accepted").await).is_empty());
    assert!(ids(&app.json_as(&token, "/v1/portal/jobs?kind=return").await).is_empty());
}

#[tokio::test]
async fn an_action_on_a_job_the_portal_has_not_heard_of_yet_is_not_found() {
    let app = spawn_app().await;
    let token = app.partner_token(Uuid::new_v4());
    let unknown = Uuid::now_v7();
    for action in ["accept", "picked-up", "delivered"] {
        let response = app
            .post_as(
                &token,
                &format!("/v1/portal/jobs/{unknown}/{action}"),
                &json!({}),
            )
            .await;
        assert_problem(response, 404, "job_not_found").await;
    }
}

#[tokio::test]
async fn admins_list_every_partners_jobs_and_filter_by_partner() {
    let app = spawn_app().await;
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let (_, first_job) = app.offered_job(first, "pickup").await;
    let (_, second_job) = app.offered_job(second, "return").await;
    let all = app.json_as(&app.admin_token, "/v1/portal/admin/jobs").await;
    assert_eq!(all["total"], 2);
    let only_first = app
        .json_as(
            &app.admin_token,
            &format!("/v1/portal/admin/jobs?partner_id={first}"),
        )
        .await;
    assert_eq!(ids(&only_first), [first_job.to_string()]);
    let returns = app
        .json_as(&app.admin_token, "/v1/portal/admin/jobs?kind=return")
        .await;
    assert_eq!(ids(&returns), [second_job.to_string()]);
    // A partner cannot ask for another partner's jobs by filter.
    let response = app
        .get_as(
            &app.partner_token(first),
            &format!("/v1/portal/jobs?partner_id={second}"),
        )
        .await;
    assert_problem(response, 400, "invalid_query_parameter").await;
}
