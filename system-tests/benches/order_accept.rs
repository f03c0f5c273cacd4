//! `make bench-order`: how fast the order service accepts orders, and whether accepting
//! depends on anything behind it.
//!
//! An open-loop generator sends at a fixed rate whatever the answers do, and measures each
//! latency from when the request was due, so a slow server cannot hide its queue (no
//! coordinated omission). For each endpoint the rate is raised until p99 passes 50 ms;
//! the last rate that held is its capacity.
//!
//! - Baseline, same run, same PostgreSQL database: a bare actix-web endpoint that parses
//!   JSON and inserts one row with sea-orm.
//! - The order service's `POST /v1/orders` (Idempotency-Key, validation, idempotency row,
//!   order, timeline and outbox rows in one transaction), with catalog, quote, Redis and the
//!   broker up and the processor working behind it.
//! - The same accept at a fixed rate with quote and the broker down, against up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use platform::auth::Role;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use system_tests::{OrderOptions, Platform};
use uuid::Uuid;

const P99_LIMIT_MS: f64 = 50.0;
const STEP: Duration = Duration::from_secs(4);
const TRIES: usize = 5;
const FIXED_RUN: Duration = Duration::from_secs(10);
/// Well within both endpoints' capacity, so the comparison is about what is down.
const FIXED_RATE: f64 = 200.0;

#[derive(Debug, Clone, Copy)]
struct Run {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

impl Run {
    fn holds(&self) -> bool {
        self.errors == 0 && self.p99_ms <= P99_LIMIT_MS
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Sends `rate` requests per second for `duration`; `send(i)` answers whether it succeeded.
async fn open_loop<F, Fut>(rate: f64, duration: Duration, send: F) -> Run
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let interval = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let send = send.clone();
        tasks.push(tokio::spawn(async move {
            let ok = send(i).await;
            (due.elapsed().as_secs_f64() * 1000.0, ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for task in tasks {
        let (latency, ok) = task.await.unwrap();
        latencies.push(latency);
        if !ok {
            errors += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    Run {
        rate,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
    }
}

/// The highest rate whose p99 stays within the limit, raising by half each step. Each
/// rate is tried three times and holds if two tries do: the machine has occasional stalls
/// of its own (checkpoints, other tenants) that one 5-second window cannot average out.
async fn capacity<F, Fut>(name: &str, send: F) -> Run
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let mut rate = 100.0;
    let mut best: Option<Run> = None;
    loop {
        let mut tries = Vec::new();
        for _ in 0..TRIES {
            let run = open_loop(rate, STEP, send.clone()).await;
            eprintln!(
                "{name}: {rate:.0}/s → p99 {:.1} ms, {} errors",
                run.p99_ms, run.errors
            );
            tries.push(run);
            // Let the queues drain before the next window.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tries.sort_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
        let median = tries[TRIES / 2];
        if !median.holds() {
            return best.unwrap_or(median);
        }
        best = Some(median);
        rate *= 1.5;
    }
}

/// The baseline: parse JSON, insert one row, answer 202.
async fn bare_insert(db: web::Data<DatabaseConnection>, body: web::Json<Value>) -> HttpResponse {
    let id = Uuid::now_v7();
    let statement = Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO bench_rows (id, body, created_at) VALUES ($1, $2, now())",
        [id.into(), body.into_inner().into()],
    );
    match db.execute_raw(statement).await {
        Ok(_) => HttpResponse::Accepted().json(json!({"id": id})),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

fn order_body() -> Value {
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    json!({
        "quote_id": Uuid::new_v4(),
        "pickup": {
            "address": "12 MG Road, Bengaluru",
            "pincode": "560001",
            "slot": {"date": tomorrow.to_string(), "window": "morning"}
        },
        "payout": {"method": "upi", "details": {"vpa": "asha@okbank"}}
    })
}

/// The services and their background work run on one runtime, the generator on another
/// (its own thread), so neither steals the other's scheduling and latencies are the
/// server's, not the generator's.
fn main() {
    assert!(
        !platform::testing::uses_sqlite(),
        "the accept benchmark runs on PostgreSQL"
    );
    let services = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let generator = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deployment = services.block_on(Deployment::start());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let bare = bare_sender(&client, &deployment);
    let accept = accept_sender(&client, &deployment, &accepted);

    // Accept latency at a fixed rate with everything up, then with quote and the broker
    // down; first, while the system has no backlog.
    let (up, down) = generator.block_on(async {
        open_loop(100.0, Duration::from_secs(2), bare.clone()).await;
        open_loop(100.0, Duration::from_secs(2), accept.clone()).await;
        let up = open_loop(FIXED_RATE, FIXED_RUN, accept.clone()).await;
        let quote = deployment.quote.server_handle();
        services
            .spawn(async move { quote.stop(true).await })
            .await
            .unwrap();
        if let Some(broker) = deployment.platform.broker.embedded() {
            broker.down().unwrap();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let down = open_loop(FIXED_RATE, FIXED_RUN, accept.clone()).await;
        (up, down)
    });

    // Everything back, quote on its old address, the backlog drained, before capacity.
    let _quote = services.block_on(async {
        if let Some(broker) = deployment.platform.broker.embedded() {
            broker.up().unwrap();
        }
        let quote = deployment
            .platform
            .quote(
                deployment.quote.port,
                &deployment.quote_db,
                &deployment.catalog,
            )
            .await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        quote
    });
    let (bare_best, accept_best) = generator.block_on(async {
        let bare_best = capacity("bare insert", bare).await;
        // The baseline's last step overloaded the database; let it recover (WAL, checkpoint)
        // so the next search does not start inside that backlog.
        tokio::time::sleep(Duration::from_secs(20)).await;
        let accept_best = capacity("order accept", accept).await;
        (bare_best, accept_best)
    });
    println!(
        "{}",
        report(
            bare_best,
            accept_best,
            up,
            down,
            accepted.load(Ordering::Relaxed)
        )
    );
    // Background loops (relays, consumers) never end by themselves; the report is out.
    std::process::exit(0);
}

struct Deployment {
    platform: Platform,
    quote: system_tests::Service,
    quote_db: String,
    catalog: system_tests::Service,
    order_url: String,
    bare_url: String,
    shopper: String,
    _order: system_tests::Service,
}

impl Deployment {
    async fn start() -> Self {
        let platform = Platform::start().await;
        let catalog = platform.catalog().await;
        let quote_db = platform::testing::fresh_database("bench_quote").await;
        let quote = platform.quote(0, &quote_db, &catalog).await;
        let order_db = platform::testing::fresh_database("bench_order").await;
        let order = platform
            .order(
                &order_db,
                OrderOptions {
                    quote_url: quote.address.clone(),
                },
            )
            .await;
        // The baseline shares the order service's database.
        let db = sea_orm::Database::connect(&order_db).await.unwrap();
        db.execute_unprepared(
            "CREATE TABLE bench_rows (id uuid PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL)",
        )
        .await
        .unwrap();
        let data = web::Data::new(db);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/rows", web::post().to(bare_insert))
        })
        .workers(2)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let bare_url = format!("http://127.0.0.1:{}/rows", server.addrs()[0].port());
        tokio::spawn(server.run());
        // Let start-up work (the seed catalog's events, the quote read model) settle.
        tokio::time::sleep(Duration::from_secs(5)).await;
        Self {
            shopper: platform.token("bench-shopper", Role::Shopper),
            order_url: order.url("/v1/orders"),
            bare_url,
            quote,
            quote_db,
            catalog,
            platform,
            _order: order,
        }
    }
}

fn bare_sender(
    client: &reqwest::Client,
    deployment: &Deployment,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
+ Clone
+ Send
+ 'static {
    let client = client.clone();
    let url = Arc::new(deployment.bare_url.clone());
    move |_| {
        let client = client.clone();
        let url = url.clone();
        Box::pin(async move {
            client
                .post(url.as_str())
                .json(&order_body())
                .send()
                .await
                .is_ok_and(|response| response.status() == 202)
        })
    }
}

fn accept_sender(
    client: &reqwest::Client,
    deployment: &Deployment,
    accepted: &Arc<AtomicU64>,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
+ Clone
+ Send
+ 'static {
    let client = client.clone();
    let url = Arc::new(deployment.order_url.clone());
    let shopper = Arc::new(deployment.shopper.clone());
    let accepted = accepted.clone();
    move |_| {
        let client = client.clone();
        let url = url.clone();
        let shopper = shopper.clone();
        let accepted = accepted.clone();
        Box::pin(async move {
            let ok = client
                .post(url.as_str())
                .bearer_auth(shopper.as_str())
                .header("Idempotency-Key", Uuid::new_v4().to_string())
                .json(&order_body())
                .send()
                .await
                .is_ok_and(|response| response.status() == 202);
            if ok {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            ok
        })
    }
}

fn report(bare_best: Run, accept_best: Run, up: Run, down: Run, accepted: u64) -> String {
    let mut out = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let machine = platform::testing::machine_description();
    let _ = writeln!(out, "## Order accept\n");
    let _ = writeln!(
        out,
        "Command: `make bench-order` (`cargo bench -p system-tests --bench order_accept`).\n"
    );
    let _ = writeln!(out, "- date: {date}");
    let _ = writeln!(out, "- machine: {machine}");
    let _ = writeln!(
        out,
        "- setup: catalog, quote and order in one process (release build) on PostgreSQL, Redis and the embedded broker; an open-loop generator on its own thread sends at a fixed rate and measures each latency from the request's due time; capacity = the highest rate (×1.5 steps from 100/s) whose median p99 over {TRIES} windows of {} s stays ≤ {P99_LIMIT_MS} ms with no errors",
        STEP.as_secs()
    );
    let _ = writeln!(
        out,
        "- baseline: a bare actix-web endpoint that parses the same JSON and inserts one row with sea-orm into the same database\n"
    );
    let _ = writeln!(
        out,
        "| endpoint | capacity req/s at p99 ≤ 50 ms | p50 ms | p99 ms | vs baseline |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (name, run) in [
        ("bare actix-web + sea-orm insert (baseline)", bare_best),
        ("order accept `POST /v1/orders`", accept_best),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2}× |",
            run.rate,
            run.p50_ms,
            run.p99_ms,
            run.rate / bare_best.rate
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| accept at {FIXED_RATE:.0} req/s for {} s, before the capacity runs | p50 ms | p99 ms | errors | p99 vs all up |",
        FIXED_RUN.as_secs()
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (name, run) in [
        ("quote, broker and consumers up (baseline)", up),
        ("quote and the broker down", down),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.2} | {:.2} | {} | {:.2}× |",
            run.p50_ms,
            run.p99_ms,
            run.errors,
            run.p99_ms / up.p99_ms
        );
    }
    let _ = writeln!(
        out,
        "\nCapacity swings between runs on a shared 2-core VM: a storage stall of 100 ms or more (every commit waits for an fsync) breaks p99 in whichever window it lands, for the baseline as much as for the order service, so compare runs, not single rows. The fixed-rate comparison is steadier."
    );
    let _ = writeln!(
        out,
        "\n{} orders accepted in this run; every request got a 202 or is counted as an error above.",
        accepted
    );
    out
}
