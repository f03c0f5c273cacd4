use platform::testing::{eventually, sample};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Options, SETTLE, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_confirmed_order_gets_a_pickup_job_offered_to_the_least_loaded_partner_serving_its_pincode()
 {
    let app = spawn_app().await;
    // Elsewhere, the wrong kind, paused: never chosen.
    app.partner("logistics", &["110001"], 10).await;
    app.partner("repair", &["560001"], 10).await;
    let paused = app.partner("logistics", &["560001"], 10).await;
    let response = app
        .client
        .patch(app.url(&format!("/v1/admin/partners/{paused}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = app.partner("logistics", &["560001", "560002"], 10).await;
    let second = app.partner("logistics", &["560001"], 10).await;

    // Equal load: the lower id wins; then the other one, which now has less.
    let (low, high) = if first < second {
        (first, second)
    } else {
        (second, first)
    };
    let one = app.confirmed_order("560001").await;
    let job = app
        .wait_for_job(one, "pickup", "the first pickup is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    assert_eq!(job["partner_id"], low.to_string());
    assert_eq!(job["slot_window"], "morning");
    let two = app.confirmed_order("560001").await;
    let job = app
        .wait_for_job(two, "pickup", "the second pickup is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    assert_eq!(job["partner_id"], high.to_string());

    // JobCreated then PartnerAssigned, numbered 1 and 2 for that order.
    let published = app.published(two, |read| read.len() >= 2).await;
    let kinds: Vec<(&str, u64)> = published
        .iter()
        .map(|envelope| (envelope.event_type.as_str(), envelope.aggregate_seq))
        .collect();
    assert_eq!(
        kinds,
        [
            ("fulfilment.JobCreated", 1),
            ("fulfilment.PartnerAssigned", 2)
        ]
    );
}

#[tokio::test]
async fn a_job_nobody_can_take_waits_unassigned_in_the_admin_queue_until_a_partner_is_added() {
    let app = spawn_app().await;
    let full = app.partner("logistics", &["400001"], 1).await;
    let taken = app.confirmed_order("400001").await;
    app.wait_for_job(
        taken,
        "pickup",
        "the first job takes the only slot",
        |job| job["partner_id"] == full.to_string(),
    )
    .await;

    let waiting = app.confirmed_order("400001").await;
    let job = app
        .wait_for_job(waiting, "pickup", "the second job is unassigned", |job| {
            job["status"] == "unassigned"
        })
        .await;
    let queue = app.admin_json("/v1/admin/jobs?status=unassigned").await;
    assert_eq!(crate::helpers::ids(&queue), [job["id"].as_str().unwrap()]);

    let newcomer = app.partner("logistics", &["400001"], 5).await;
    let job = app
        .wait_for_job(waiting, "pickup", "the new partner gets it", |job| {
            job["status"] == "offered"
        })
        .await;
    assert_eq!(job["partner_id"], newcomer.to_string());
    let detail = app
        .admin_json(&format!("/v1/admin/jobs/{}", job["id"].as_str().unwrap()))
        .await;
    let statuses: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["unassigned", "unassigned", "offered"]);
}

#[tokio::test]
async fn an_offer_not_accepted_within_the_window_goes_to_another_partner() {
    let app = spawn_app_with(Options {
        acceptance_window_seconds: 1,
        ..Options::default()
    })
    .await;
    let slow = app.partner("logistics", &["600001"], 10).await;
    let order_id = app.confirmed_order("600001").await;
    // The job is created and offered in one transaction: once it exists, slow had the offer.
    let job = app
        .wait_for_job(order_id, "pickup", "the pickup exists", |_| true)
        .await;
    let path = format!("/v1/admin/jobs/{}", job["id"].as_str().unwrap());
    let other = app.partner("logistics", &["600001"], 10).await;
    app.wait_for_job(order_id, "pickup", "the lapsed offer moves on", |job| {
        job["partner_id"] == other.to_string()
    })
    .await;
    // Once the second lets it lapse too, nobody is left: the admin queue.
    eventually(SETTLE, "the job ends unassigned", || async {
        app.jobs_of(order_id).await[0]["status"] == "unassigned"
    })
    .await;
    let history = app.admin_json(&path).await["history"].clone();
    let offered_to: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["status"] == "offered")
        .map(|row| row["partner_id"].as_str().unwrap())
        .collect();
    assert_eq!(offered_to, [slow.to_string(), other.to_string()]);
}

#[tokio::test]
async fn resuming_a_paused_partner_offers_it_the_jobs_waiting_in_the_queue() {
    let app = spawn_app().await;
    let partner = app.partner("logistics", &["411001"], 5).await;
    let path = format!("/v1/admin/partners/{partner}");
    let pause = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&app.admin_token)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(pause.status(), 200);
    let order_id = app.confirmed_order("411001").await;
    app.wait_for_job(order_id, "pickup", "unassigned while paused", |job| {
        job["status"] == "unassigned"
    })
    .await;

    let resume = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&app.admin_token)
        .json(&json!({"active": true, "daily_capacity": 6}))
        .send()
        .await
        .unwrap();
    assert_eq!(resume.status(), 200);
    let resumed: serde_json::Value = resume.json().await.unwrap();
    assert_eq!(resumed["active"], true);
    assert_eq!(resumed["daily_capacity"], 6);
    let job = app
        .wait_for_job(order_id, "pickup", "offered once resumed", |job| {
            job["status"] == "offered"
        })
        .await;
    assert_eq!(job["partner_id"], partner.to_string());
    let published = app.published(order_id, |read| read.len() >= 3).await;
    let types: Vec<(&str, u64)> = published
        .iter()
        .map(|e| (e.event_type.as_str(), e.aggregate_seq))
        .collect();
    assert_eq!(
        types,
        [
            ("fulfilment.JobCreated", 1),
            ("fulfilment.JobUnassigned", 2),
            ("fulfilment.PartnerAssigned", 3)
        ]
    );
}

#[tokio::test]
async fn partners_are_listed_by_kind_pincode_and_activity() {
    let app = spawn_app().await;
    let near = app.partner("logistics", &["560001", "560034"], 5).await;
    let far = app.partner("logistics", &["110001"], 5).await;
    let repair = app.partner("repair", &["560034"], 5).await;
    let listed = |query: &'static str| {
        let app = &app;
        async move {
            let mut ids =
                crate::helpers::ids(&app.admin_json(&format!("/v1/admin/partners?{query}")).await);
            ids.sort();
            ids
        }
    };
    let mut both = vec![near.to_string(), repair.to_string()];
    both.sort();
    assert_eq!(listed("pincode=560034").await, both);
    assert_eq!(
        listed("kind=logistics&pincode=110001").await,
        [far.to_string()]
    );
    assert_eq!(listed("kind=repair").await, [repair.to_string()]);
    assert!(listed("active=false").await.is_empty());
    let one = app.admin_json("/v1/admin/partners?per_page=1&page=2").await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    assert_eq!(one["total"], 3);
}

#[tokio::test]
async fn a_partner_is_never_offered_more_jobs_in_a_day_than_its_capacity_however_many_orders_arrive_at_once()
 {
    const CAPACITY: usize = 10;
    const ORDERS: usize = 120;
    let app = spawn_app().await;
    let partner = app.partner("logistics", &["560077"], CAPACITY as i64).await;

    // All published at once: the consumer works on many orders concurrently.
    let orders: Vec<_> =
        futures_util::future::join_all((0..ORDERS).map(|_| app.confirmed_order("560077"))).await;
    let mut offered = 0;
    for order_id in orders {
        let job = app
            .wait_for_job(
                order_id,
                "pickup",
                "each order's pickup is decided",
                |job| job["status"] == "offered" || job["status"] == "unassigned",
            )
            .await;
        if job["status"] == "offered" {
            assert_eq!(job["partner_id"], partner.to_string());
            offered += 1;
        }
    }
    assert_eq!(
        offered, CAPACITY,
        "the partner holds exactly its capacity; the rest wait unassigned"
    );
}

/// The store itself, with every transaction past its checks before any commits: the
/// consumer alone rarely lines transactions up this tightly.
#[tokio::test]
async fn transactions_handing_jobs_to_one_partner_at_once_take_turns_so_it_never_exceeds_its_capacity()
 {
    use fulfilment::domain::{JobKind, NewJob, TradeIn};
    use sea_orm::TransactionTrait;

    const CAPACITY: usize = 3;
    const AT_ONCE: usize = 8;
    if platform::testing::uses_sqlite() {
        eprintln!("skipped: SQLite has one writer at a time, there is no race to lose");
        return;
    }
    let app = spawn_app().await;
    let partner = app.partner("logistics", &["560099"], CAPACITY as i64).await;
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    let slot_date = day.to_string();
    let all_open = std::sync::Arc::new(tokio::sync::Barrier::new(AT_ONCE));
    let handed: Vec<_> = futures_util::future::join_all((0..AT_ONCE).map(|_| {
        let db = db.clone();
        let all_open = all_open.clone();
        let slot_date = slot_date.clone();
        async move {
            let txn = db.begin().await.unwrap();
            let trade_in = fulfilment::store::open_trade_in(
                &txn,
                TradeIn {
                    order_id: Uuid::now_v7(),
                    quote_id: Uuid::new_v4(),
                    variant_id: Uuid::new_v4(),
                    pincode: "560099".into(),
                    address: "1 Test Road".into(),
                    slot_date: slot_date.clone(),
                    slot_window: "morning".into(),
                    quoted_amount_minor: 1_000,
                    quoted_currency: "INR".into(),
                },
            )
            .await
            .unwrap();
            // Every transaction is open and has written before any hands out a job.
            all_open.wait().await;
            let job = fulfilment::store::create_job(
                &txn,
                &trade_in,
                NewJob {
                    kind: JobKind::Pickup,
                    day,
                    pincode: "560099",
                    address: "1 Test Road",
                    slot_date: &slot_date,
                    slot_window: "morning",
                },
            )
            .await
            .unwrap();
            txn.commit().await.unwrap();
            job.partner_id
        }
    }))
    .await;
    let to_partner = handed.iter().filter(|held| **held == Some(partner)).count();
    assert_eq!(to_partner, CAPACITY, "{handed:?}");
}

/// The partners dashboard's figures: every instance reports the open jobs by partner, kind
/// and status, and names each partner, from the tables as they stand.
#[tokio::test]
async fn open_jobs_are_reported_by_partner_kind_and_status_with_the_partners_named() {
    let app = spawn_app().await;
    let partner = app.partner("logistics", &["560001"], 10).await;
    let first = app.confirmed_order("560001").await;
    let second = app.confirmed_order("560001").await;
    for order in [first, second] {
        app.wait_for_job(order, "pickup", "the pickup is offered", |job| {
            job["status"] == "offered"
        })
        .await;
    }
    // No partner serves this pincode: its pickup stays unassigned.
    let nowhere = app.confirmed_order("999999").await;
    app.wait_for_job(nowhere, "pickup", "the pickup is unassigned", |job| {
        job["status"] == "unassigned"
    })
    .await;

    let partner = partner.to_string();
    eventually(SETTLE, "the open jobs are reported", || async {
        let metrics = app.service.metrics().await;
        let open = |partner: &str, status: &str| {
            let labels = [("kind", "pickup"), ("partner", partner), ("status", status)];
            sample(&metrics, "fulfilment_open_jobs", &labels)
        };
        let named = [
            ("partner", partner.as_str()),
            ("kind", "logistics"),
            ("active", "true"),
        ];
        open(&partner, "offered") == Some(2.0)
            && open("", "unassigned") == Some(1.0)
            && sample(&metrics, "fulfilment_partner_info", &named) == Some(1.0)
    })
    .await;
}
