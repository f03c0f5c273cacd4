use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestOptions, assert_problem, spawn_app, spawn_app_with};

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn cache_hits(app: &crate::helpers::TestApp) -> u64 {
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find(|line| line.starts_with(r#"catalog_cache_lookups_total{outcome="hit"}"#))
        .and_then(|line| line.rsplit(' ').next())
        .map(|value| value.parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_created_model_is_visible_in_browse_and_detail() {
    let app = spawn_app().await;
    let created = app
        .create_model("Acme", "Rocket 5", "phone", 1_234_500)
        .await;
    assert_eq!(created["status"], "active");
    assert_eq!(created["version"], 1);
    assert_eq!(
        created["variants"][0]["base_price"]["amount_minor"],
        1_234_500
    );

    let list = app.get_json("/v1/devices?q=rocket").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], created["id"]);
    assert_eq!(list["items"][0]["top_price"]["amount_minor"], 1_234_500);

    let detail = app
        .get_json(&format!("/v1/devices/{}", id_of(&created)))
        .await;
    assert_eq!(detail["name"], "Rocket 5");
    assert_eq!(detail["variants"][0]["name"], "128 GB");
}

#[tokio::test]
async fn creating_a_model_answers_201_with_its_location() {
    let app = spawn_app().await;
    let response = app
        .admin(Method::POST, "/v1/admin/catalog/models")
        .json(
            &json!({"brand": "Acme", "name": "Slate", "category": "tablet", "release_year": 2022}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/admin/catalog/models/{}", id_of(&body))
    );
    let fetched = app.admin(Method::GET, &location).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
}

#[tokio::test]
async fn a_second_model_with_the_same_brand_and_name_is_a_409_whatever_the_case() {
    let app = spawn_app().await;
    app.create_model("Acme", "Rocket", "phone", 100).await;
    let response = app
        .admin(Method::POST, "/v1/admin/catalog/models")
        .json(
            &json!({"brand": "ACME", "name": "rocket", "category": "phone", "release_year": 2023}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, "device_already_exists").await;
    assert_eq!(app.get_json("/v1/devices").await["total"], 1);
}

#[tokio::test]
async fn a_variant_price_change_is_visible_on_the_next_read_through_the_cache() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let path = format!("/v1/devices/{}", id_of(&created));
    let variant_id = created["variants"][0]["id"].as_str().unwrap().to_owned();

    // Two reads: the first fills the cache, the second is served from it.
    app.get_json(&path).await;
    let hits_before = cache_hits(&app).await;
    app.get_json(&path).await;
    assert_eq!(
        cache_hits(&app).await,
        hits_before + 1,
        "second read is a cache hit"
    );
    assert!(!app.cached_keys().await.is_empty());

    let response = app
        .admin(
            Method::PATCH,
            &format!("/v1/admin/catalog/variants/{variant_id}"),
        )
        .json(&json!({"base_price": {"amount_minor": 90_000, "currency": "INR"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let detail = app.get_json(&path).await;
    assert_eq!(detail["variants"][0]["base_price"]["amount_minor"], 90_000);
    let list = app.get_json("/v1/devices").await;
    assert_eq!(list["items"][0]["top_price"]["amount_minor"], 90_000);
}

#[tokio::test]
async fn a_write_on_one_instance_invalidates_the_cache_of_another() {
    let first = spawn_app().await;
    let second = spawn_app_with(TestOptions {
        share_with: first.shared(),
        ..TestOptions::default()
    })
    .await;
    let created = first.create_model("Acme", "Rocket", "phone", 100_000).await;
    let path = format!("/v1/devices/{}", id_of(&created));
    assert_eq!(first.get_json(&path).await["name"], "Rocket");
    assert_eq!(second.get_json(&path).await["name"], "Rocket");

    let response = second
        .admin(
            Method::PATCH,
            &format!("/v1/admin/catalog/models/{}", id_of(&created)),
        )
        .json(&json!({"name": "Rocket II"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    assert_eq!(first.get_json(&path).await["name"], "Rocket II");
}

#[tokio::test]
async fn the_catalog_serves_reads_and_writes_without_redis() {
    let app = spawn_app_with(TestOptions {
        redis: false,
        ..TestOptions::default()
    })
    .await;
    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let path = format!("/v1/admin/catalog/models/{}", id_of(&created));
    app.admin(Method::PATCH, &path)
        .json(&json!({"name": "Rocket II"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.get_json(&format!("/v1/devices/{}", id_of(&created)))
            .await["name"],
        "Rocket II"
    );
}

#[tokio::test]
async fn a_retired_model_leaves_browse_but_stays_visible_to_admins() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let id = id_of(&created);
    app.get_json(&format!("/v1/devices/{id}")).await;

    let response = app
        .admin(Method::DELETE, &format!("/v1/admin/catalog/models/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    // Retiring is idempotent.
    let again = app
        .admin(Method::DELETE, &format!("/v1/admin/catalog/models/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 204);

    let response = app.get(&format!("/v1/devices/{id}")).send().await.unwrap();
    assert_problem(response, 404, "device_not_found").await;
    assert_eq!(app.get_json("/v1/devices").await["total"], 0);

    let admin_view: Value = app
        .admin_get(&format!("/v1/admin/catalog/models/{id}"))
        .await;
    assert_eq!(admin_view["status"], "retired");
    let retired: Value = app
        .admin_get("/v1/admin/catalog/models?status=retired")
        .await;
    assert_eq!(retired["total"], 1);
}

#[tokio::test]
async fn a_retired_model_cannot_be_changed() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let id = id_of(&created);
    app.admin(Method::DELETE, &format!("/v1/admin/catalog/models/{id}"))
        .send()
        .await
        .unwrap();

    let response = app
        .admin(Method::PATCH, &format!("/v1/admin/catalog/models/{id}"))
        .json(&json!({"name": "Rocket II"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 409, "device_retired").await;
    assert_eq!(problem["current_status"], "retired");

    let response = app
        .admin(
            Method::POST,
            &format!("/v1/admin/catalog/models/{id}/variants"),
        )
        .json(&json!({"name": "256 GB", "base_price": {"amount_minor": 5, "currency": "INR"}}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, "device_retired").await;
}

#[tokio::test]
async fn variants_can_be_added_renamed_and_deleted() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let id = id_of(&created);

    let response = app
        .admin(
            Method::POST,
            &format!("/v1/admin/catalog/models/{id}/variants"),
        )
        .json(
            &json!({"name": "256 GB", "base_price": {"amount_minor": 150_000, "currency": "INR"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let variant: Value = response.json().await.unwrap();
    let variant_id = id_of(&variant);

    let duplicate = app
        .admin(
            Method::POST,
            &format!("/v1/admin/catalog/models/{id}/variants"),
        )
        .json(&json!({"name": "256 gb", "base_price": {"amount_minor": 1, "currency": "INR"}}))
        .send()
        .await
        .unwrap();
    assert_problem(duplicate, 409, "variant_already_exists").await;

    let renamed = app
        .admin(
            Method::PATCH,
            &format!("/v1/admin/catalog/variants/{variant_id}"),
        )
        .json(&json!({"name": "256 GB (Dual SIM)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let detail = app.get_json(&format!("/v1/devices/{id}")).await;
    assert_eq!(detail["variants"][1]["name"], "256 GB (Dual SIM)");

    let deleted = app
        .admin(
            Method::DELETE,
            &format!("/v1/admin/catalog/variants/{variant_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let detail = app.get_json(&format!("/v1/devices/{id}")).await;
    assert_eq!(detail["variants"].as_array().unwrap().len(), 1);

    let gone = app
        .admin(
            Method::DELETE,
            &format!("/v1/admin/catalog/variants/{variant_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_problem(gone, 404, "variant_not_found").await;

    let model: Value = app
        .admin_get(&format!("/v1/admin/catalog/models/{id}"))
        .await;
    assert_eq!(model["version"], 4, "each write bumps the model's version");
}

fn questionnaire(screen_option: &str) -> Value {
    json!({"questions": [
        {"key": "screen", "text": "Screen condition?", "options": [
            {"key": "flawless", "label": "Flawless", "deduction": {"kind": "percentage", "basis_points": 0}},
            {"key": screen_option, "label": "Damaged", "deduction": {"kind": "absolute", "amount_minor": 150_000}}
        ]},
        {"key": "powers_on", "text": "Does it power on?", "options": [
            {"key": "yes", "label": "Yes", "deduction": {"kind": "percentage", "basis_points": 0}},
            {"key": "no", "label": "No", "deduction": {"kind": "percentage", "basis_points": 7000}}
        ]}
    ]})
}

#[tokio::test]
async fn a_replaced_questionnaire_applies_to_every_device_of_its_category() {
    let app = spawn_app().await;
    let phone = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let laptop = app.create_model("Acme", "Book", "laptop", 100_000).await;
    app.get_json(&format!("/v1/devices/{}", id_of(&phone)))
        .await;

    let response = app
        .admin(Method::PUT, "/v1/admin/catalog/questionnaires/phone")
        .json(&questionnaire("cracked"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stored: Value = response.json().await.unwrap();

    let detail = app
        .get_json(&format!("/v1/devices/{}", id_of(&phone)))
        .await;
    assert_eq!(detail["questionnaire"], stored);
    assert_eq!(
        detail["questionnaire"]["questions"][0]["options"][1]["deduction"]["amount_minor"],
        150_000
    );
    let other = app
        .get_json(&format!("/v1/devices/{}", id_of(&laptop)))
        .await;
    assert!(
        other["questionnaire"]["questions"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Replacing again with the same keys keeps question and option ids.
    let again: Value = app
        .admin(Method::PUT, "/v1/admin/catalog/questionnaires/phone")
        .json(&questionnaire("broken"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["questions"][0]["id"], stored["questions"][0]["id"]);
    assert_eq!(
        again["questions"][1]["options"][1]["id"],
        stored["questions"][1]["options"][1]["id"]
    );
    assert_ne!(
        again["questions"][0]["options"][1]["id"],
        stored["questions"][0]["options"][1]["id"]
    );
    let fetched: Value = app
        .admin_get("/v1/admin/catalog/questionnaires/phone")
        .await;
    assert_eq!(fetched, again);
}

#[tokio::test]
async fn an_invalid_questionnaire_is_refused_whole_and_the_old_one_stays() {
    let app = spawn_app().await;
    app.admin(Method::PUT, "/v1/admin/catalog/questionnaires/watch")
        .json(&questionnaire("cracked"))
        .send()
        .await
        .unwrap();
    let mut invalid = questionnaire("cracked");
    invalid["questions"][1]["options"][1]["deduction"]["basis_points"] = json!(12_000);
    invalid["questions"][1]["key"] = json!("screen");
    let response = app
        .admin(Method::PUT, "/v1/admin/catalog/questionnaires/watch")
        .json(&invalid)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"questions[1].key"), "{fields:?}");
    assert!(
        fields.contains(&"questions[1].options[1].deduction.basis_points"),
        "{fields:?}"
    );

    let kept: Value = app
        .admin_get("/v1/admin/catalog/questionnaires/watch")
        .await;
    assert_eq!(kept["questions"][1]["key"], "powers_on");
}

#[tokio::test]
async fn the_admin_list_filters_by_status_and_pages() {
    let app = spawn_app().await;
    for index in 0..5 {
        app.create_model("Acme", &format!("Model {index}"), "watch", 1_000)
            .await;
    }
    let page: Value = app
        .admin(
            Method::GET,
            "/v1/admin/catalog/models?per_page=2&page=3&status=active",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 5);
    assert_eq!(page["total_pages"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["name"], "Model 4");
}

#[tokio::test]
async fn concurrent_admin_writes_to_one_model_all_land_or_are_refused_cleanly() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Rocket", "phone", 100_000).await;
    let id = id_of(&created);
    let requests = (0..8).map(|index| {
        app.admin(Method::POST, &format!("/v1/admin/catalog/models/{id}/variants"))
            .json(&json!({"name": format!("{index}00 GB"), "base_price": {"amount_minor": 1000 + index, "currency": "INR"}}))
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut created_count = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            201 => created_count += 1,
            409 => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["code"], "concurrent_update", "{body}");
            }
            500 if crate::helpers::Backend::from_env() == crate::helpers::Backend::Sqlite => {
                panic!("SQLite write contention must not surface as a 500");
            }
            other => panic!("unexpected status {other}: {:?}", response.text().await),
        }
    }
    let model: Value = app
        .admin_get(&format!("/v1/admin/catalog/models/{id}"))
        .await;
    assert_eq!(
        model["variants"].as_array().unwrap().len(),
        1 + created_count
    );
    assert_eq!(model["version"], 1 + created_count as u64);
}
