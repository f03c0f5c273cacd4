//! `recommerce load` against a real platform (`recommerce dev` in its own process): the
//! trade-in mix it sends must be one the services accept, and the report must count what
//! was sent and time it. Also the refusals before a run: bad arguments, a target that does
//! not answer.

use std::process::Stdio;
use std::time::Duration;

use platform::testing::{eventually, free_port};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Running, recommerce, wait_until_ready};

const SETTLE: Duration = Duration::from_secs(60);
/// Two steps of 2 s and a 1 s warm-up, plus the drain; far below this.
const LOAD_LIMIT: Duration = Duration::from_secs(60);
const GRACE: Duration = Duration::from_secs(10);

/// `recommerce dev` on free ports (PostgreSQL unless TEST_DATABASE=sqlite, embedded broker);
/// returns it with its announcement (`dev.json`: edge URL and tokens).
async fn dev_platform(workdir: &std::path::Path, run: &str) -> (Running, Value) {
    let mut command = recommerce();
    command
        .arg("dev")
        .args(["--data-dir", workdir.join("data").to_str().unwrap()])
        .args(["--edge-port", &free_port().to_string()])
        .env(
            "APP_HTTP__SHUTDOWN_GRACE_SECONDS",
            GRACE.as_secs().to_string(),
        )
        .stdout(Stdio::null())
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
    if std::env::var("TEST_DATABASE").as_deref() != Ok("sqlite") {
        let server = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        command
            .args(["--postgres", &server])
            .args(["--postgres-prefix", &format!("test_load_{run}")]);
    }
    let dev = Running(command.spawn().unwrap());
    let announcement = workdir.join("data/dev.json");
    // dev.json is written once every service is up; it may be caught half-written.
    eventually(SETTLE, "recommerce dev announces itself", || async {
        std::fs::read(&announcement)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .is_some()
    })
    .await;
    let announced: Value = serde_json::from_slice(&std::fs::read(&announcement).unwrap()).unwrap();
    wait_until_ready(&format!(
        "{}/health/ready",
        announced["edge"].as_str().unwrap()
    ))
    .await;
    (dev, announced)
}

#[tokio::test]
async fn load_runs_the_trade_in_mix_against_a_live_platform_and_reports_each_step() {
    let run = Uuid::new_v4().simple().to_string();
    let workdir = std::env::temp_dir().join(format!("load-{run}"));
    std::fs::create_dir_all(&workdir).unwrap();
    let (mut dev, announced) = dev_platform(&workdir, &run).await;
    let tokens = &announced["tokens"];
    let report_file = workdir.join("report.json");
    let table_file = workdir.join("table.txt");

    let mut load = Running(
        recommerce()
            .arg("load")
            .args(["--url", announced["edge"].as_str().unwrap()])
            .args([
                "--steps",
                "10,20",
                "--step-duration",
                "2s",
                "--warmup",
                "1s",
            ])
            .args(["--mix", "browse=4,quote=2,order=2,partner=1,admin=1"])
            .args(["--shopper-token", tokens["shopper"].as_str().unwrap()])
            .args([
                "--partner-token",
                tokens["logistics_partner"].as_str().unwrap(),
            ])
            .args(["--admin-token", tokens["admin"].as_str().unwrap()])
            .args(["--json", report_file.to_str().unwrap()])
            .stdout(std::fs::File::create(&table_file).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let status = load.exited_within(LOAD_LIMIT).await;
    assert!(status.success(), "{status:?}");

    let report: Value = serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "one entry per step: {report:#}");
    for (step, expected) in steps.iter().zip([20, 40]) {
        let overall = &step["overall"];
        // The schedule is exact: rate × duration operations, the warm-up's not among them.
        assert_eq!(overall["operations"], expected, "{step:#}");
        assert!(step["requests"].as_u64().unwrap() > expected, "{step:#}");
        let status = &overall["status"];
        for failure in ["transport_errors", "timeouts", "dropped", "malformed"] {
            assert_eq!(status[failure], 0, "{failure}: {step:#}");
        }
        // At these rates nothing is refused: every request the mix builds is one the
        // services accept.
        assert_eq!(overall["succeeded"], expected, "{step:#}");
        let latency = &overall["latency_ms"];
        let p50 = latency["p50"].as_f64().unwrap();
        assert!(p50 > 0.0, "{step:#}");
        assert!(latency["p99_9"].as_f64().unwrap() >= p50, "{step:#}");
        assert!(latency["max"].as_f64().unwrap() >= latency["p99"].as_f64().unwrap());
        assert!(overall["throughput_per_second"].as_f64().unwrap() > 0.0);
        for operation in [
            "browse",
            "quote",
            "order",
            "order.place",
            "partner",
            "admin",
        ] {
            let row = &step["by_operation"][operation];
            assert!(
                row["operations"].as_u64().unwrap() > 0,
                "{operation}: {step:#}"
            );
            assert!(
                row["latency_ms"]["p99"].as_f64().is_some(),
                "{operation}: {step:#}"
            );
        }
    }

    let table = std::fs::read_to_string(&table_file).unwrap();
    assert!(table.contains("p99.9 ms"), "{table}");
    assert!(table.contains("order.place"), "{table}");

    dev.signal("INT");
    let status = dev.exited_within(GRACE + Duration::from_secs(5)).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn load_refuses_to_start_against_a_target_that_does_not_answer() {
    let unused = free_port();
    let output = tokio::task::spawn_blocking(move || {
        recommerce()
            .arg("load")
            .args(["--url", &format!("http://127.0.0.1:{unused}")])
            .args(["--rate", "10", "--duration", "1s", "--mix", "browse=1"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not answer"), "{stderr}");
}

#[test]
fn load_refuses_bad_arguments() {
    for (args, names) in [
        (&["--rate", "10"][..], "--shopper-token"),
        (
            &["--rate", "10", "--mix", "sell=1"][..],
            "unknown operation",
        ),
        (&["--duration", "10s"][..], "--rate"),
        (&["--rate", "fast"][..], "not a rate"),
    ] {
        let output = recommerce().arg("load").args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(names), "{args:?}: {stderr}");
    }
}
