use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::helpers::{assert_problem, seed_file, spawn_app, spawn_seeded_app};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

fn seed_count(matches: impl Fn(&Value) -> bool) -> u64 {
    seed_file()["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|model| matches(model))
        .count() as u64
}

#[tokio::test]
async fn the_seed_catalog_has_at_least_25_models_in_all_four_categories() {
    let app = spawn_seeded_app().await;
    let all = app.get_json("/v1/devices?per_page=100").await;
    assert!(all["total"].as_u64().unwrap() >= 25, "{all}");
    let categories: BTreeSet<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        BTreeSet::from(["laptop", "phone", "tablet", "watch"])
    );
    for item in all["items"].as_array().unwrap() {
        assert!(item["variant_count"].as_u64().unwrap() >= 1, "{item}");
        assert_eq!(item["top_price"]["currency"], "INR");
    }
}

#[tokio::test]
async fn pages_cover_every_device_exactly_once_in_a_stable_order() {
    let app = spawn_seeded_app().await;
    let everything = ids(&app.get_json("/v1/devices?per_page=100").await);
    let mut paged = Vec::new();
    let first = app.get_json("/v1/devices?per_page=7").await;
    let total_pages = first["total_pages"].as_u64().unwrap();
    assert_eq!(total_pages, (everything.len() as u64).div_ceil(7));
    for page in 1..=total_pages {
        let body = app
            .get_json(&format!("/v1/devices?per_page=7&page={page}"))
            .await;
        assert_eq!(body["page"], page);
        assert_eq!(body["total"], everything.len() as u64);
        let items = ids(&body);
        assert!(items.len() <= 7);
        paged.extend(items);
    }
    assert_eq!(paged, everything);
    let past_the_end = app
        .get_json(&format!("/v1/devices?per_page=7&page={}", total_pages + 1))
        .await;
    assert!(ids(&past_the_end).is_empty());
}

#[tokio::test]
async fn browse_is_sorted_by_brand_then_name() {
    let app = spawn_seeded_app().await;
    let body = app.get_json("/v1/devices?per_page=100").await;
    let keys: Vec<(String, String)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["brand"].as_str().unwrap().to_lowercase(),
                item["name"].as_str().unwrap().to_lowercase(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[tokio::test]
async fn a_category_filter_returns_exactly_that_category() {
    let app = spawn_seeded_app().await;
    for category in ["phone", "laptop", "tablet", "watch"] {
        let body = app
            .get_json(&format!("/v1/devices?category={category}&per_page=100"))
            .await;
        assert_eq!(
            body["total"],
            seed_count(|model| model["category"] == category),
            "{category}"
        );
        assert!(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|item| item["category"] == category)
        );
    }
}

#[tokio::test]
async fn a_brand_filter_is_exact_and_ignores_case() {
    let app = spawn_seeded_app().await;
    let body = app.get_json("/v1/devices?brand=aPPle&per_page=100").await;
    let expected = seed_count(|model| model["brand"] == "Apple");
    assert!(expected > 0);
    assert_eq!(body["total"], expected);
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["brand"] == "Apple")
    );
    let partial = app.get_json("/v1/devices?brand=App").await;
    assert_eq!(partial["total"], 0, "brand is not a prefix search");
}

#[tokio::test]
async fn text_search_matches_brand_and_name_across_categories() {
    let app = spawn_seeded_app().await;
    let body = app.get_json("/v1/devices?q=GALAXY&per_page=100").await;
    let expected = seed_count(|model| {
        format!(
            "{} {}",
            model["brand"].as_str().unwrap(),
            model["name"].as_str().unwrap()
        )
        .to_lowercase()
        .contains("galaxy")
    });
    assert_eq!(body["total"], expected);
    let categories: BTreeSet<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["category"].as_str().unwrap())
        .collect();
    assert!(categories.len() >= 2, "{categories:?}");

    let brand_and_name = app.get_json("/v1/devices?q=apple%20iphone").await;
    assert!(brand_and_name["total"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn filters_and_search_combine() {
    let app = spawn_seeded_app().await;
    let body = app
        .get_json("/v1/devices?category=watch&brand=Samsung&q=galaxy&per_page=100")
        .await;
    let expected = seed_count(|model| {
        model["category"] == "watch"
            && model["brand"] == "Samsung"
            && model["name"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("galaxy")
    });
    assert_eq!(body["total"], expected);
}

#[tokio::test]
async fn search_wildcards_are_taken_literally() {
    let app = spawn_app().await;
    app.create_model("Acme", "Phone 100%", "phone", 10_000)
        .await;
    app.create_model("Acme", "Phone 1000", "phone", 10_000)
        .await;
    let percent = app.get_json("/v1/devices?q=100%25").await;
    assert_eq!(percent["total"], 1, "{percent}");
    let underscore = app.get_json("/v1/devices?q=phone_1").await;
    assert_eq!(underscore["total"], 0, "{underscore}");
}

#[tokio::test]
async fn a_device_shows_its_variants_cheapest_first_and_its_categorys_questionnaire() {
    let app = spawn_seeded_app().await;
    let list = app.get_json("/v1/devices?category=laptop&per_page=1").await;
    let id = list["items"][0]["id"].as_str().unwrap();
    let device = app.get_json(&format!("/v1/devices/{id}")).await;

    assert_eq!(device["category"], "laptop");
    assert_eq!(device["questionnaire"]["category"], "laptop");
    let prices: Vec<i64> = device["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| variant["base_price"]["amount_minor"].as_i64().unwrap())
        .collect();
    assert!(!prices.is_empty());
    assert!(
        prices.windows(2).all(|pair| pair[0] <= pair[1]),
        "{prices:?}"
    );
    let questions = device["questionnaire"]["questions"].as_array().unwrap();
    let seeded = seed_file()["questionnaires"]["laptop"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(questions.len(), seeded);
    for question in questions {
        let options = question["options"].as_array().unwrap();
        assert!(options.len() >= 2);
        let kind = options[1]["deduction"]["kind"].as_str().unwrap();
        assert!(kind == "percentage" || kind == "absolute");
    }
}

#[tokio::test]
async fn browse_answers_carry_an_etag_and_public_cache_control() {
    let app = spawn_seeded_app().await;
    for path in ["/v1/devices", "/v1/devices?category=phone"] {
        let response = app.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert!(
            headers
                .get("etag")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with('"')
        );
        let cache_control = headers.get("cache-control").unwrap().to_str().unwrap();
        assert!(cache_control.contains("public") && cache_control.contains("max-age=60"));
    }
}

#[tokio::test]
async fn an_unchanged_resource_answers_304_to_its_etag() {
    let app = spawn_seeded_app().await;
    let list = app.get_json("/v1/devices?per_page=1").await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    for path in [
        "/v1/devices?per_page=3".to_owned(),
        format!("/v1/devices/{id}"),
    ] {
        let first = app.get(&path).send().await.unwrap();
        let etag = first
            .headers()
            .get("etag")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();

        let again = app
            .get(&path)
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers().get("etag").unwrap(), etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());

        let other = app
            .get(&path)
            .header("If-None-Match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn the_etag_changes_when_the_device_changes() {
    let app = spawn_app().await;
    let model = app.create_model("Acme", "One", "phone", 10_000).await;
    let path = format!("/v1/devices/{}", model["id"].as_str().unwrap());
    let before = app.get(&path).send().await.unwrap();
    let etag = before
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    let patched = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/v1/admin/catalog/models/{}", model["id"].as_str().unwrap()),
        )
        .json(&serde_json::json!({"release_year": 2024}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);

    let after = app
        .get(&path)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    let body: Value = after.json().await.unwrap();
    assert_eq!(body["release_year"], 2024);
}

#[tokio::test]
async fn out_of_range_paging_is_a_400_problem() {
    let app = spawn_app().await;
    for query in [
        "per_page=0",
        "per_page=101",
        "page=0",
        "page=10001",
        "page=-1",
        "page=two",
    ] {
        let response = app
            .get(&format!("/v1/devices?{query}"))
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "invalid_query_parameter").await;
    }
}

#[tokio::test]
async fn an_unknown_category_or_an_overlong_search_is_a_400_problem() {
    let app = spawn_app().await;
    let response = app
        .get("/v1/devices?category=toaster")
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_query_parameter").await;
    let long = "x".repeat(101);
    let response = app
        .get(&format!("/v1/devices?q={long}"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_query_parameter").await;
}

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let app = spawn_seeded_app().await;
    let first = app.get_json("/v1/devices?per_page=100").await;
    // A second instance on the same database seeds again at start.
    let second_instance = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        seed: true,
        share_with: app.shared(),
        ..Default::default()
    })
    .await;
    let second = second_instance.get_json("/v1/devices?per_page=100").await;
    assert_eq!(first["total"], second["total"]);
    let by_id = |body: &Value| -> BTreeMap<String, Value> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| (item["id"].as_str().unwrap().to_owned(), item.clone()))
            .collect()
    };
    assert_eq!(by_id(&first), by_id(&second));
}

#[tokio::test]
async fn a_variant_lookup_answers_its_model_with_status_version_and_questionnaire() {
    let app = spawn_seeded_app().await;
    let created = app.create_model("Acme", "Lookup", "phone", 50_000).await;
    let variant = created["variants"][0]["id"].as_str().unwrap();
    let found = app
        .get_json(&format!("/v1/devices/variants/{variant}"))
        .await;
    assert_eq!(found["variant_id"], variant);
    assert_eq!(found["model"]["id"], created["id"]);
    assert_eq!(found["model"]["status"], "active");
    assert_eq!(found["model"]["version"], 1);
    assert_eq!(
        found["model"]["variants"][0]["base_price"]["amount_minor"],
        50_000
    );
    assert_eq!(found["questionnaire"]["category"], "phone");
    assert!(
        !found["questionnaire"]["questions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "the seed has a phone questionnaire: {found}"
    );
}

#[tokio::test]
async fn a_variant_of_a_retired_model_is_still_found_marked_retired() {
    let app = spawn_app().await;
    let created = app.create_model("Acme", "Old", "watch", 9_000).await;
    let model = created["id"].as_str().unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap();
    let retired = app
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/catalog/models/{model}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), 204);
    let found = app
        .get_json(&format!("/v1/devices/variants/{variant}"))
        .await;
    assert_eq!(found["model"]["status"], "retired");
    assert_eq!(found["model"]["version"], 2);
    assert_eq!(found["questionnaire"]["questions"], serde_json::json!([]));
}

#[tokio::test]
async fn an_unknown_variant_lookup_is_a_404_problem() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4();
    let response = app
        .get(&format!("/v1/devices/variants/{unknown}"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "variant_not_found").await;
}
