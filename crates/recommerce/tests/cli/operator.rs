//! The operator's commands: settings errors, tokens, the configuration check, the broker,
//! migrations and seed data.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use system_tests::{JWT_SECRET, Platform};

use crate::helpers::{broker_process, recommerce};

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The command failed, and its message names `what` (the key, variable or flag to fix).
fn assert_fails_naming(output: &std::process::Output, what: &str) {
    assert!(!output.status.success());
    assert!(stderr_of(output).contains(what), "{}", stderr_of(output));
}

#[test]
fn help_lists_every_command() {
    let output = recommerce().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in [
        "dev",
        "serve",
        "edge",
        "broker",
        "migrate",
        "seed",
        "token",
        "healthcheck",
        "load",
        "config",
    ] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

#[test]
fn a_bad_setting_stops_a_service_with_the_key_it_names() {
    let output = recommerce()
        .args(["serve", "order"])
        .env("APP_PROFILE", "dev")
        .env("APP_HTTP__PORT", "eighty")
        .output()
        .unwrap();
    assert_fails_naming(&output, "http.port");
}

#[test]
fn production_refuses_to_start_with_the_dev_secret() {
    let output = recommerce()
        .args(["serve", "catalog"])
        .env("APP_PROFILE", "production")
        .env("APP_AUTH__JWT_SECRET", platform::config::DEV_JWT_SECRET)
        .output()
        .unwrap();
    assert_fails_naming(&output, "APP_AUTH__JWT_SECRET");
}

#[test]
fn production_refuses_to_start_without_a_service_secret_of_its_own() {
    let secret = "a-production-secret-that-is-long-enough-0123";
    for service_secret in [None, Some(secret)] {
        let mut command = recommerce();
        command
            .args(["config", "check", "catalog"])
            .env("APP_PROFILE", "production")
            .env("APP_AUTH__JWT_SECRET", secret);
        if let Some(service_secret) = service_secret {
            command.env("APP_AUTH__SERVICE_SECRET", service_secret);
        }
        let output = command.output().unwrap();
        assert_fails_naming(&output, "APP_AUTH__SERVICE_SECRET");
    }
}

#[test]
fn a_partner_token_needs_the_partner_it_acts_for() {
    let output = recommerce()
        .args(["token", "--role", "partner"])
        .env("APP_PROFILE", "dev")
        .output()
        .unwrap();
    assert_fails_naming(&output, "--partner");
}

#[tokio::test]
async fn the_token_command_prints_a_token_a_service_accepts() {
    let platform = Platform::start().await;
    let catalog = platform.catalog().await;
    let output = recommerce()
        .args(["token", "--role", "admin", "--subject", "ops"])
        .env("APP_PROFILE", "test")
        .env("APP_AUTH__JWT_SECRET", JWT_SECRET)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap();
    let response = platform
        .http
        .get(catalog.url("/v1/admin/catalog/models"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn the_configuration_check_names_a_misspelt_variable() {
    let output = recommerce()
        .args(["config", "check", "order"])
        .env("APP_PROFILE", "dev")
        .env("APP_ORDER__QUOTE_ULR", "http://quote:8080")
        .output()
        .unwrap();
    assert_fails_naming(&output, "APP_ORDER__QUOTE_ULR");
}

#[test]
fn the_configuration_check_passes_a_complete_deployment_environment() {
    let output = recommerce()
        .args(["config", "check", "fulfilment"])
        .env("APP_PROFILE", "production")
        .env(
            "APP_AUTH__JWT_SECRET",
            "a-production-secret-that-is-long-enough-0123",
        )
        .env(
            "APP_AUTH__SERVICE_SECRET",
            "a-production-service-secret-long-enough-0123",
        )
        .env(
            "APP_DATABASE__URL",
            "postgres://fulfilment@postgres:5432/fulfilment",
        )
        .env("APP_REDIS__URL", "redis://redis:6379")
        .env("APP_KAFKA__BROKERS", "kafka:9092")
        .env("APP_FULFILMENT__QUOTE_URL", "http://quote:8080")
        .env("APP_HTTP__HOST", "0.0.0.0")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
}

#[test]
fn the_configuration_check_rejects_an_invalid_value() {
    let output = recommerce()
        .args(["config", "check", "edge"])
        .env("APP_EDGE__ORDER_URL", "order:8080")
        .output()
        .unwrap();
    assert_fails_naming(&output, "edge.order_url");
}

#[tokio::test]
async fn the_broker_command_writes_its_address_and_serves_every_topic() {
    let file = std::env::temp_dir().join(format!("broker-{}.addr", uuid::Uuid::new_v4()));
    let (running, address) = broker_process(&file).await;
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &address)
        .create()
        .unwrap();
    let metadata = tokio::task::spawn_blocking(move || {
        consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .unwrap()
    })
    .await
    .unwrap();
    for topic in events::topics::ALL {
        let found = metadata
            .topics()
            .iter()
            .find(|candidate| candidate.name() == topic);
        assert_eq!(
            found.map(|topic| topic.partitions().len()),
            Some(3),
            "{topic}"
        );
    }
    running.signal("TERM");
}

#[test]
fn seeding_twice_creates_the_seed_data_once() {
    let workdir = std::env::temp_dir().join(format!("seed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&workdir).unwrap();
    let seed = || {
        let output = recommerce()
            .arg("seed")
            .current_dir(&workdir)
            .env("APP_PROFILE", "dev")
            .env("APP_TELEMETRY__LOG_LEVEL", "warn")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let first = seed();
    assert!(first.contains("fulfilment: 2 partners created"), "{first}");
    assert!(!first.contains("catalog: 0 models"), "{first}");
    let second = seed();
    assert!(
        second.contains("catalog: 0 models and 0 questionnaires created"),
        "{second}"
    );
    assert!(
        second.contains("fulfilment: 0 partners created"),
        "{second}"
    );
    assert!(workdir.join("data/catalog.db").exists());
    assert!(workdir.join("data/fulfilment.db").exists());
}

#[test]
fn seeding_one_service_touches_only_that_services_database() {
    let workdir = std::env::temp_dir().join(format!("seed-one-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&workdir).unwrap();
    let output = recommerce()
        .args(["seed", "fulfilment"])
        .current_dir(&workdir)
        .env("APP_PROFILE", "dev")
        .env("APP_TELEMETRY__LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("fulfilment: 2 partners created"),
        "{stdout}"
    );
    assert!(!stdout.contains("catalog"), "{stdout}");
    assert!(workdir.join("data/fulfilment.db").exists());
    assert!(!workdir.join("data/catalog.db").exists());
}
