use crate::helpers::{TestOptions, spawn_app, spawn_app_with};

#[tokio::test]
async fn liveness_answers_ok() {
    let app = spawn_app().await;
    let body = app.get_json("/health/live").await;
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readiness_checks_the_database_and_redis() {
    let app = spawn_app().await;
    let body = app.get_json("/health/ready").await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["redis"], "ok");
}

#[tokio::test]
async fn a_catalog_started_while_redis_is_down_is_ready_and_browses_from_the_database() {
    let mut redis = platform::testing::PrivateRedis::start();
    redis.stop();
    let app = spawn_app_with(TestOptions {
        seed: true,
        redis_url: Some(redis.url()),
        ..TestOptions::default()
    })
    .await;
    let body = app.get_json("/health/ready").await;
    assert_eq!(body["status"], "ready", "{body}");
    assert!(
        body["checks"]["redis"]
            .as_str()
            .is_some_and(|status| status.starts_with("degraded")),
        "{body}"
    );
    let devices = app.get_json("/v1/devices").await;
    assert!(!devices["items"].as_array().unwrap().is_empty());

    // Once Redis is back, readiness reports it ok again.
    redis.restart();
    platform::testing::eventually(
        std::time::Duration::from_secs(30),
        "Redis is reported ok again",
        || async {
            app.get_json("/v1/devices").await;
            app.get_json("/health/ready").await["checks"]["redis"] == "ok"
        },
    )
    .await;
}

#[tokio::test]
async fn readiness_checks_only_what_is_configured() {
    let app = spawn_app_with(TestOptions {
        redis: false,
        ..TestOptions::default()
    })
    .await;
    let body = app.get_json("/health/ready").await;
    assert_eq!(body["checks"]["database"], "ok");
    assert!(body["checks"].get("redis").is_none(), "{body}");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    for path in ["/health/live", "/v1/devices", "/no/such/route"] {
        let response = app.get(path).send().await.unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no request id on {path}"));
        uuid::Uuid::parse_str(id.to_str().unwrap()).unwrap();
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4();
    app.get(&format!("/v1/devices/{unknown}"))
        .send()
        .await
        .unwrap();
    app.get("/v1/devices").send().await.unwrap();

    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"catalog_http_requests_total{endpoint="/v1/devices/{id}",method="GET",status="404"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(r#"catalog_http_requests_duration_seconds_bucket{endpoint="/v1/devices",method="GET",status="200""#));
    assert!(
        !metrics.contains(&unknown.to_string()),
        "ids must not become labels"
    );
}

#[tokio::test]
async fn the_service_stops_within_its_grace_period_and_then_refuses_connections() {
    let broker = platform::testing::TestBroker::start();
    broker.create_topics(&events::topics::ALL, 1).await;
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;
    let address = app.address.clone();
    platform::testing::assert_stops_within_grace(&address, app.stop()).await;
}
