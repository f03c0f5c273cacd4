//! `make bench`: browse throughput, latency and memory of the catalog, run as the real
//! `recommerce serve catalog` process on PostgreSQL, with and without the Redis read-through
//! cache, and ETag revalidation.
//!
//! The baseline is measured in the same run, on the same machine and data: device detail
//! read straight from the database. Every other row is a ratio to it, so the figures compare
//! across machines even though the absolute numbers do not. Client and server share the
//! machine's cores, so absolute numbers understate a real deployment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

const REQUESTS: usize = 4_000;
const WARMUP: usize = 400;
const CONCURRENCY: usize = 16;

struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// (current RSS, peak RSS) in MiB, from /proc.
    fn memory_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|line| line.starts_with(name))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
                .unwrap_or(f64::NAN)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

async fn start(database_url: &str, redis_url: Option<&str>, client: &reqwest::Client) -> Service {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_recommerce"));
    command
        .args(["serve", "catalog"])
        .env("APP_PROFILE", "test")
        .env(
            "APP_AUTH__JWT_SECRET",
            "bench-only-secret-that-is-long-enough-0123",
        )
        .env("APP_HTTP__PORT", port.to_string())
        .env("APP_DATABASE__URL", database_url)
        .env("APP_CATALOG__SEED_ON_START", "true")
        .env("APP_TELEMETRY__LOG_LEVEL", "warn")
        .env(
            "APP_REDIS__KEY_PREFIX",
            format!("bench-{}", uuid::Uuid::new_v4().simple()),
        )
        .env("APP_REDIS__URL", redis_url.unwrap_or(""))
        .stdout(Stdio::null());
    let service = Service {
        child: command.spawn().expect("the catalog binary starts"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client
            .get(format!("{}/health/ready", service.base))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success());
        if ready {
            return service;
        }
        assert!(
            Instant::now() < deadline,
            "the catalog did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Outcome {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Sends `total` GETs over `CONCURRENCY` connections, cycling through `targets`
/// (url, optional If-None-Match), and checks every answer has `expected_status`.
async fn load(
    client: &reqwest::Client,
    targets: &[(String, Option<String>)],
    total: usize,
    expected_status: u16,
) -> Outcome {
    let targets = Arc::new(targets.to_vec());
    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures_util::stream::iter(0..total)
        .map(|index| {
            let client = client.clone();
            let targets = targets.clone();
            async move {
                let (url, etag) = &targets[index % targets.len()];
                let mut request = client.get(url);
                if let Some(etag) = etag {
                    request = request.header("If-None-Match", etag);
                }
                let sent = Instant::now();
                let response = request.send().await.unwrap();
                assert_eq!(response.status().as_u16(), expected_status, "{url}");
                response.bytes().await.unwrap();
                sent.elapsed()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
        latencies[index].as_secs_f64() * 1000.0
    };
    Outcome {
        requests_per_second: total as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    }
}

async fn measure(
    client: &reqwest::Client,
    targets: &[(String, Option<String>)],
    expected_status: u16,
) -> Outcome {
    load(client, targets, WARMUP, expected_status).await;
    load(client, targets, REQUESTS, expected_status).await
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let redis_url =
        std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let name = format!("bench_catalog_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("PostgreSQL is running");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let database_url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let plain = start(&database_url, None, &client).await;
    let cached = start(&database_url, Some(&redis_url), &client).await;
    let idle = (plain.memory_mib(), cached.memory_mib());

    let list: Value = client
        .get(format!("{}/v1/devices?per_page=100", plain.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    let details = |base: &str| -> Vec<(String, Option<String>)> {
        ids.iter()
            .map(|id| (format!("{base}/v1/devices/{id}"), None))
            .collect()
    };
    let pages = |base: &str| -> Vec<(String, Option<String>)> {
        [
            "",
            "?category=phone",
            "?category=laptop",
            "?q=galaxy",
            "?brand=apple",
            "?page=2&per_page=10",
        ]
        .iter()
        .map(|query| (format!("{base}/v1/devices{query}"), None))
        .collect()
    };
    let mut revalidations = Vec::new();
    for (url, _) in details(&cached.base) {
        let response = client.get(&url).send().await.unwrap();
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        revalidations.push((url, Some(etag)));
    }

    let rows = [
        (
            "device detail, database (baseline)",
            measure(&client, &details(&plain.base), 200).await,
        ),
        (
            "device detail, Redis cache",
            measure(&client, &details(&cached.base), 200).await,
        ),
        (
            "device detail, If-None-Match → 304",
            measure(&client, &revalidations, 304).await,
        ),
        (
            "browse page, database",
            measure(&client, &pages(&plain.base), 200).await,
        ),
        (
            "browse page, Redis cache",
            measure(&client, &pages(&cached.base), 200).await,
        ),
    ];
    let loaded = (plain.memory_mib(), cached.memory_mib());
    drop(plain);
    drop(cached);
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .ok();

    let baseline = rows[0].1.requests_per_second;
    println!("## Catalog browse\n");
    println!("Command: `make bench-catalog` (`cargo bench -p catalog --bench browse`).\n");
    println!(
        "- date: {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("- machine: {}", platform::testing::machine_description());
    println!(
        "- setup: release build of `recommerce serve catalog` on PostgreSQL with the seed catalog ({} devices); \
         {REQUESTS} GETs per row after {WARMUP} warm-up, {CONCURRENCY} concurrent connections, \
         client on the same machine\n",
        ids.len()
    );
    println!("| scenario | req/s | p50 ms | p99 ms | throughput vs baseline |");
    println!("|---|---:|---:|---:|---:|");
    for (label, outcome) in &rows {
        println!(
            "| {label} | {:.0} | {:.2} | {:.2} | {:.2}× |",
            outcome.requests_per_second,
            outcome.p50_ms,
            outcome.p99_ms,
            outcome.requests_per_second / baseline
        );
    }
    println!(
        "\n| process | RSS idle MiB | RSS after load MiB | peak RSS MiB | peak vs database-only peak |"
    );
    println!("|---|---:|---:|---:|---:|");
    let plain_peak = loaded.0.1;
    for (label, idle, loaded) in [
        ("catalog, database only (baseline)", idle.0, loaded.0),
        ("catalog, with Redis cache", idle.1, loaded.1),
    ] {
        println!(
            "| {label} | {:.1} | {:.1} | {:.1} | {:.2}× |",
            idle.0,
            loaded.0,
            loaded.1,
            loaded.1 / plain_peak
        );
    }
}
