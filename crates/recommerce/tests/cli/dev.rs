//! `recommerce dev` on real infrastructure: the flags that swap the embedded parts for
//! PostgreSQL, Redis and a broker in another process must really move every service there,
//! and the platform must still carry a trade-in end to end through the edge. (The embedded
//! defaults are what `make test-fresh-clone` runs.)

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use platform::testing::{eventually, free_port};
use serde_json::{Value, json};
use uuid::Uuid;

use system_tests::order_body;

use crate::helpers::{Running, broker_process, recommerce};

const SETTLE: Duration = Duration::from_secs(60);
/// The services' shutdown grace period in this test, and what process exit may add to it.
const GRACE: Duration = Duration::from_secs(10);
const STOP_MARGIN: Duration = Duration::from_secs(2);

struct Edge {
    base: String,
    http: reqwest::Client,
}

impl Edge {
    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", Uuid::new_v4().to_string());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }
}

#[tokio::test]
async fn dev_runs_every_service_on_postgres_redis_and_a_broker_process_of_its_own() {
    let postgres_server = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let run = Uuid::new_v4().simple().to_string();
    let workdir = std::env::temp_dir().join(format!("dev-infra-{run}"));
    std::fs::create_dir_all(&workdir).unwrap();

    let (broker, brokers) = broker_process(&workdir.join("broker.addr")).await;

    let redis_prefix = format!("dev-infra-{run}");
    let postgres_prefix = format!("test_dev_{run}");
    let edge_port = free_port();
    let mut command = recommerce();
    command
        .arg("dev")
        .args(["--data-dir", workdir.join("data").to_str().unwrap()])
        .args(["--edge-port", &edge_port.to_string()])
        .args(["--redis", &platform::testing::shared_redis_url()])
        .args(["--kafka", &brokers])
        .args(["--postgres", &postgres_server])
        .args(["--postgres-prefix", &postgres_prefix])
        .env("APP_REDIS__KEY_PREFIX", &redis_prefix)
        .env(
            "APP_HTTP__SHUTDOWN_GRACE_SECONDS",
            GRACE.as_secs().to_string(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for flag in [
        "catalog",
        "quote",
        "order",
        "fulfilment",
        "portal",
        "reporting",
    ] {
        command
            .arg(format!("--{flag}-port"))
            .arg(free_port().to_string());
    }
    let mut dev = Running(command.spawn().unwrap());
    let stdout = dev.0.stdout.take().unwrap();
    let (lines_out, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_out.send(line).is_err() {
                break;
            }
        }
    });
    // The banner ends with its Ctrl-C hint; nothing is read by timing.
    let (banner, lines) = tokio::task::spawn_blocking(move || {
        let mut banner = Vec::new();
        while !banner
            .last()
            .is_some_and(|line: &String| line.contains("Stop with Ctrl-C"))
        {
            banner.push(
                lines
                    .recv_timeout(SETTLE)
                    .expect("dev stopped printing its banner"),
            );
        }
        (banner.join("\n"), lines)
    })
    .await
    .unwrap();
    assert!(
        banner.contains("(dev profile; PostgreSQL, external broker, Redis sequencer)"),
        "{banner}"
    );

    let announced: Value =
        serde_json::from_slice(&std::fs::read(workdir.join("data/dev.json")).unwrap()).unwrap();
    let tokens = &announced["tokens"];
    let edge = Edge {
        base: announced["edge"].as_str().unwrap().to_owned(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };
    assert_eq!(edge.base, format!("http://127.0.0.1:{edge_port}"));
    let shopper = tokens["shopper"].as_str().unwrap();
    let logistics = tokens["logistics_partner"].as_str().unwrap();

    let devices = edge
        .call("GET", "/v1/devices?category=phone", shopper, None)
        .await;
    let device_id = devices["items"][0]["id"].as_str().unwrap();
    let device = edge
        .call("GET", &format!("/v1/devices/{device_id}"), shopper, None)
        .await;
    let answers: Vec<Value> = device["questionnaire"]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|question| json!({"question_id": question["id"], "option_id": question["options"][0]["id"]}))
        .collect();
    let quote = edge
        .call(
            "POST",
            "/v1/quotes",
            shopper,
            Some(json!({
                "variant_id": device["variants"][0]["id"],
                "answers": answers,
                "pincode": "560001",
            })),
        )
        .await;
    let quote_id = quote["id"].as_str().unwrap();
    let order = edge
        .call("POST", "/v1/orders", shopper, Some(order_body(quote_id)))
        .await;
    let order_id = order["id"].as_str().unwrap().to_owned();

    let job = {
        let found = std::sync::Mutex::new(None);
        eventually(
            SETTLE,
            "the seed logistics partner is offered the pickup",
            || async {
                let jobs = edge.call("GET", "/v1/portal/jobs", logistics, None).await;
                let job = jobs["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|job| job["order_id"] == order_id.as_str() && job["status"] == "offered")
                    .cloned();
                let offered = job.is_some();
                *found.lock().unwrap() = job;
                offered
            },
        )
        .await;
        found.into_inner().unwrap().unwrap()
    };
    let job_id = job["id"].as_str().unwrap();
    edge.call(
        "POST",
        &format!("/v1/portal/jobs/{job_id}/accept"),
        logistics,
        None,
    )
    .await;
    eventually(SETTLE, "the order reaches pickup_scheduled", || async {
        let order = edge
            .call("GET", &format!("/v1/orders/{order_id}"), shopper, None)
            .await;
        order["status"] == "pickup_scheduled"
    })
    .await;

    // The state is where the flags sent it: PostgreSQL databases of the given prefix, and
    // Redis keys under the given prefix (the catalog's browse cache).
    let (base, _) = postgres_server.rsplit_once('/').unwrap();
    let in_postgres = system_tests::query_count(
        &format!("{base}/{postgres_prefix}_order"),
        &format!(
            "SELECT COUNT(*) FROM orders WHERE id = '{order_id}' AND status = 'pickup_scheduled'"
        ),
    )
    .await;
    assert_eq!(
        in_postgres, 1,
        "the order is in the PostgreSQL database dev was given"
    );
    let mut redis = redis::Client::open(platform::testing::shared_redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{redis_prefix}:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "no Redis key under {redis_prefix}");
    assert!(
        !workdir.join("data/order.db").exists(),
        "no SQLite fallback"
    );

    // The broker goes away under a platform that has carried a trade-in; the stop must
    // still end within the grace period (it once took 82 s: relays, consumers and workers
    // waited on the broker without a deadline).
    drop(broker);
    dev.signal("INT");
    let status = dev.exited_within(GRACE + STOP_MARGIN).await;
    assert!(status.success(), "{status:?}");
    // Everything it printed until its stdout closed.
    let rest: Vec<String> = tokio::task::spawn_blocking(move || lines.iter().collect())
        .await
        .unwrap();
    assert!(
        rest.iter().any(|line| line == "recommerce dev stopped"),
        "{rest:?}"
    );
}
