//! `make bench-backlog`: the order service draining a backlog of 50,000 fulfilment events
//! over 5,000 orders while it keeps accepting orders: how long the drain takes, how much
//! memory the process needs for it, whether its database pools time out, and what accepting
//! an order costs meanwhile.
//!
//! - The service is the release build of `recommerce serve order`, its own process,
//!   configured through `APP_*` variables as a deployment is, on a fresh PostgreSQL
//!   database, the shared Redis (a key prefix of its own) and the embedded Kafka-protocol
//!   broker over loopback TCP. The broker lives in this process because the bench takes it
//!   down and up: that is what holds the backlog until the service's idle memory is known.
//! - Quote's lock is answered by a stub in this process (every quote locks at one price):
//!   the backlog's orders are placed through `POST /v1/orders` and confirmed by the order
//!   processor, so the events apply to orders the service's own paths wrote.
//! - The backlog is what fulfilment publishes for an order up to its inspection, ten events
//!   with `aggregate_seq` 1–10; three move the order (pickup scheduled, picked up,
//!   inspected), the other seven have no handler in order and are recorded in sequence.
//!   After the inspection the processor pays the order out: each backlog order must end
//!   `completed`.
//! - Orders are placed at a fixed open-loop rate during the drain; each latency counts from
//!   when its request was due.
//!
//! Any `APP_*` variable set for the bench is passed on to the service (and named in the
//! report), to measure other settings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use events::fulfilment as proto;
use futures_util::{FutureExt, StreamExt};
use platform::auth::{Authenticator, Role};
use platform::config::AuthSettings;
use platform::kafka::{EmbeddedBroker, KafkaSettings};
use prost::Message as _;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

const ORDERS: usize = 5_000;
const EVENTS_PER_ORDER: u64 = 10;
/// Of them, those order has a handler for (pickup scheduled, picked up, inspected): only
/// these are recorded by event id; the others move their key's progress alone.
const HANDLED_PER_ORDER: usize = 3;
const PARTITIONS: i32 = 6;
/// Orders placed per second while the backlog drains.
const ACCEPT_RATE: f64 = 100.0;
/// Shoppers the orders come from: each stays under the per-principal rate limit.
const SHOPPERS: usize = 50;
const PRICE_MINOR: i64 = 1_250_000;
const RSS_GOAL_MIB: f64 = 150.0;
const P99_GOAL_MS: f64 = 50.0;
/// The service idles this long before its memory is taken as the idle figure.
const SETTLE: Duration = Duration::from_secs(10);
const SECRET: &str = "bench-only-secret-that-is-long-enough-backlog";
const SERVICE_SECRET: &str = "bench-only-service-secret-long-enough-backlog";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A field of /proc/<pid>/status in MiB.
fn proc_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// `recommerce serve order` as a child process, stopped with SIGTERM (then killed) on drop.
struct Service {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Service {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the service is given, as a deployment gives it: `APP_*` variables.
fn service_env(
    database_url: &str,
    brokers: &str,
    quote_url: &str,
    prefix: &str,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = [
        ("APP_PROFILE", "production"),
        ("APP_HTTP__HOST", "127.0.0.1"),
        ("APP_DATABASE__URL", database_url),
        ("APP_DATABASE__MIGRATE_ON_START", "true"),
        ("APP_REDIS__URL", &redis_url()),
        ("APP_REDIS__KEY_PREFIX", prefix),
        ("APP_AUTH__JWT_SECRET", SECRET),
        ("APP_AUTH__SERVICE_SECRET", SERVICE_SECRET),
        ("APP_KAFKA__BROKERS", brokers),
        ("APP_ORDER__QUOTE_URL", quote_url),
        ("APP_TELEMETRY__LOG_FORMAT", "json"),
        ("APP_TELEMETRY__LOG_LEVEL", "info"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    env.extend(overrides());
    env.into_iter().collect()
}

/// `APP_*` variables set for the bench itself: passed on, and named in the report.
fn overrides() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with("APP_"))
        .collect()
}

fn redis_url() -> String {
    std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn start_service(env: &[(String, String)], work: &std::path::Path, name: &str) -> Service {
    let port = free_port();
    let log = work.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_recommerce"));
    command
        .args(["serve", "order"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(key, value)| (key, value)))
        .env("APP_HTTP__PORT", port.to_string())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    let mut service = Service {
        child: command.spawn().expect("the recommerce binary starts"),
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let client = reqwest::Client::new();
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
        if Instant::now() > deadline || service.child.try_wait().ok().flatten().is_some() {
            service.stop();
            panic!(
                "the order service did not become ready:\n{}",
                std::fs::read_to_string(&service.log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Quote's lock, as the order processor calls it: every quote locks at one price.
async fn lock_quote() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "variant_id": Uuid::from_u128(0x5eed),
        "price": {"amount_minor": PRICE_MINOR, "currency": "INR"},
    }))
}

/// Places one order; its status and problem code (if any).
async fn place(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> (u16, Option<String>, Option<Uuid>) {
    let response = client
        .post(format!("{base}/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&system_tests::order_body(&Uuid::new_v4().to_string()))
        .send()
        .await;
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let code = body["code"].as_str().map(str::to_owned);
            let id = body["id"].as_str().and_then(|id| Uuid::parse_str(id).ok());
            (status, code, id)
        }
        Err(_) => (0, Some("transport".into()), None),
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn statuses(db: &DatabaseConnection) -> BTreeMap<String, i64> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT status, count(*) FROM orders GROUP BY status",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (
                row.try_get_by_index::<String>(0).unwrap(),
                row.try_get_by_index::<i64>(1).unwrap(),
            )
        })
        .collect()
}

/// The sum of a metric's samples (all label sets) on the service's `/metrics`.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics(client: &reqwest::Client, base: &str) -> String {
    match client.get(format!("{base}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Fulfilment's events for one order up to its inspection, in the order it publishes them.
fn fulfilment_events(order_id: Uuid) -> Vec<(&'static str, Vec<u8>)> {
    let order = order_id.to_string();
    let pickup_job = Uuid::new_v4().to_string();
    let inspection_job = Uuid::new_v4().to_string();
    let courier = Uuid::from_u128(0xc0u128).to_string();
    let lab = Uuid::from_u128(0x1abu128).to_string();
    let slot_date = (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).to_string();
    let created = |job: &str, kind: &str| proto::JobCreated {
        order_id: order.clone(),
        job_id: job.to_owned(),
        kind: kind.into(),
        pincode: "560001".into(),
        address: "12 MG Road, Bengaluru".into(),
        slot_date: if kind == "pickup" {
            slot_date.clone()
        } else {
            String::new()
        },
        slot_window: if kind == "pickup" {
            "morning".into()
        } else {
            String::new()
        },
        variant_id: Uuid::from_u128(0x5eed).to_string(),
    };
    let assigned = |job: &str, partner: &str, kind: &str| proto::PartnerAssigned {
        order_id: order.clone(),
        job_id: job.to_owned(),
        partner_id: partner.to_owned(),
        kind: kind.into(),
    };
    let changed = |status: &str| proto::JobStatusChanged {
        order_id: order.clone(),
        job_id: pickup_job.clone(),
        partner_id: courier.clone(),
        kind: "pickup".into(),
        status: status.into(),
    };
    fn wrap<E: events::Event>(event: &E, order: &str, seq: u64) -> (&'static str, Vec<u8>) {
        let envelope = events::Envelope::wrap(event, order, seq, "fulfilment", String::new());
        (E::EVENT_TYPE, envelope.encode_to_vec())
    }
    let events = vec![
        wrap(&created(&pickup_job, "pickup"), &order, 1),
        wrap(&assigned(&pickup_job, &courier, "pickup"), &order, 2),
        wrap(&changed("accepted"), &order, 3),
        wrap(
            &proto::PickupScheduled {
                order_id: order.clone(),
                job_id: pickup_job.clone(),
                partner_id: courier.clone(),
                slot_date: slot_date.clone(),
                slot_window: "morning".into(),
            },
            &order,
            4,
        ),
        wrap(&changed("picked_up"), &order, 5),
        wrap(
            &proto::DevicePickedUp {
                order_id: order.clone(),
                job_id: pickup_job.clone(),
                partner_id: courier.clone(),
            },
            &order,
            6,
        ),
        wrap(&changed("completed"), &order, 7),
        wrap(&created(&inspection_job, "inspection"), &order, 8),
        wrap(&assigned(&inspection_job, &lab, "inspection"), &order, 9),
        wrap(
            &proto::InspectionCompleted {
                order_id: order.clone(),
                job_id: inspection_job.clone(),
                partner_id: lab.clone(),
                final_price: Some(proto::Money {
                    amount_minor: PRICE_MINOR,
                    currency: "INR".into(),
                }),
                notes: "as declared".into(),
            },
            &order,
            10,
        ),
    ];
    assert_eq!(events.len() as u64, EVENTS_PER_ORDER);
    events
}

/// Publishes the backlog as fulfilment's relay would (keyed by order id, its headers),
/// round by round: every order's first event, then every order's second, and so on.
/// Returns how long it took.
async fn publish_backlog(brokers: &str, orders: &[Uuid]) -> Duration {
    let started = Instant::now();
    let settings = KafkaSettings {
        brokers: brokers.to_owned(),
        ..KafkaSettings::default()
    };
    let producer = settings.producer("bench-fulfilment").unwrap();
    let per_order: Vec<Vec<(&'static str, Vec<u8>)>> =
        orders.iter().map(|id| fulfilment_events(*id)).collect();
    let mut deliveries = Vec::with_capacity(orders.len() * EVENTS_PER_ORDER as usize);
    for seq in 0..EVENTS_PER_ORDER as usize {
        for (order, events) in orders.iter().zip(&per_order) {
            let (event_type, payload) = &events[seq];
            let key = order.to_string();
            let event_id = events::Envelope::decode(payload.as_slice())
                .unwrap()
                .event_id;
            loop {
                let headers = OwnedHeaders::new()
                    .insert(Header {
                        key: "event-id",
                        value: Some(event_id.as_str()),
                    })
                    .insert(Header {
                        key: "event-type",
                        value: Some(*event_type),
                    })
                    .insert(Header {
                        key: "producer",
                        value: Some("fulfilment"),
                    });
                let record = FutureRecord::to(events::topics::FULFILMENT_EVENTS)
                    .key(&key)
                    .payload(payload)
                    .headers(headers);
                match producer.send_result(record) {
                    Ok(delivery) => {
                        deliveries.push(delivery);
                        break;
                    }
                    // The producer's queue is full: let it send.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }
    }
    for delivery in deliveries {
        delivery.await.unwrap().expect("the backlog is published");
    }
    started.elapsed()
}

struct Sample {
    at: Duration,
    rss_mib: f64,
}

struct Drain {
    backlog_published: Duration,
    idle_rss: f64,
    first_event: Duration,
    drained: Duration,
    orders_completed: Duration,
    samples: Vec<Sample>,
    hwm_mib: f64,
    accepts: Vec<(f64, u16, Option<String>)>,
    accept_window: Duration,
    statuses: BTreeMap<String, i64>,
    backlog_completed: i64,
    processed: i64,
    progressed_to_end: i64,
    dead_letters: i64,
    final_metrics: String,
    pool_timeouts: usize,
    busy_logged: usize,
    errors_logged: usize,
    /// The most frequent ERROR messages, with their counts.
    top_errors: Vec<(String, usize)>,
    ignored_logged: usize,
    /// /proc/loadavg (1 min) when the backlog was released and when it was drained.
    load: (String, String),
}

async fn run(database_url: &str, work: &std::path::Path) -> Drain {
    let db = Database::connect(database_url).await.unwrap();
    let broker = EmbeddedBroker::start(1).expect("the embedded broker starts");
    for topic in events::topics::ALL {
        broker.create_topic_with_dlq(topic, PARTITIONS).unwrap();
    }
    let brokers = broker.bootstrap_servers().to_owned();

    let quote =
        HttpServer::new(|| App::new().route("/v1/quotes/{id}/lock", web::post().to(lock_quote)))
            .workers(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
    let quote_url = format!("http://127.0.0.1:{}", quote.addrs()[0].port());
    tokio::spawn(quote.run());

    let prefix = format!("bench-backlog-{}", Uuid::new_v4().simple());
    let env = service_env(database_url, &brokers, &quote_url, &prefix);
    let checked = Command::new(env!("CARGO_BIN_EXE_recommerce"))
        .args(["config", "check", "order"])
        .env_clear()
        .envs(env.iter().map(|(key, value)| (key, value)))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "recommerce config check order: {}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let auth = Authenticator::new(&AuthSettings {
        jwt_secret: Some(SECRET.into()),
        leeway_seconds: 30,
        ..AuthSettings::default()
    });
    let shoppers: Vec<String> = (0..SHOPPERS)
        .map(|_| {
            auth.issue(
                &Uuid::new_v4().to_string(),
                Role::Shopper,
                None,
                Duration::from_secs(7200),
            )
            .unwrap()
        })
        .collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    // The orders the backlog is about, placed and confirmed by a first instance.
    eprintln!("placing {ORDERS} orders");
    let mut setup = start_service(&env, work, "setup").await;
    let orders: Vec<Uuid> = futures_util::stream::iter(0..ORDERS)
        .map(|i| {
            let client = client.clone();
            let base = setup.base.clone();
            let token = shoppers[i % SHOPPERS].clone();
            async move {
                for _ in 0..50 {
                    match place(&client, &base, &token).await {
                        (202, _, Some(id)) => return id,
                        // Rate-limited or busy: as a client would, come back.
                        _ => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
                panic!("an order of the backlog could not be placed");
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let confirmed = statuses(&db).await.get("confirmed").copied().unwrap_or(0);
        let unsent = count(&db, "SELECT count(*) FROM outbox WHERE sent_at IS NULL").await;
        if confirmed == ORDERS as i64 && unsent == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the orders were not confirmed: {:?}",
            statuses(&db).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    setup.stop();
    drop(setup);

    eprintln!("publishing {} events", ORDERS as u64 * EVENTS_PER_ORDER);
    let backlog_published = publish_backlog(&brokers, &orders).await;
    // Held: the instance under test starts without a broker, and idles.
    broker.down().unwrap();
    let service = start_service(&env, work, "order").await;
    let pid = service.pid();
    tokio::time::sleep(SETTLE).await;
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(proc_mib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    idle.sort_by(f64::total_cmp);
    let idle_rss = idle[idle.len() / 2];

    eprintln!("releasing the backlog");
    broker.up().unwrap();
    let released = Instant::now();
    let load_at_release = load_average();
    let draining = Arc::new(AtomicBool::new(true));

    // Orders at a fixed rate while it drains, each timed from when it was due.
    let load = {
        let draining = draining.clone();
        let client = client.clone();
        let base = service.base.clone();
        let shoppers = shoppers.clone();
        tokio::spawn(async move {
            let interval = Duration::from_secs_f64(1.0 / ACCEPT_RATE);
            let start = tokio::time::Instant::now();
            let mut tasks = Vec::new();
            let mut i = 0u64;
            while draining.load(Ordering::Acquire) {
                let due = start + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due).await;
                let client = client.clone();
                let base = base.clone();
                let token = shoppers[i as usize % SHOPPERS].clone();
                tasks.push(tokio::spawn(async move {
                    let (status, code, _) = place(&client, &base, &token).await;
                    (due.elapsed().as_secs_f64() * 1000.0, status, code)
                }));
                i += 1;
            }
            let window = start.elapsed();
            let mut outcomes = Vec::with_capacity(tasks.len());
            for task in tasks {
                outcomes.push(task.await.unwrap());
            }
            (outcomes, window)
        })
    };

    let total = (ORDERS as u64 * EVENTS_PER_ORDER) as f64;
    let mut samples = Vec::new();
    let mut first_event = None;
    let deadline = Instant::now() + Duration::from_secs(1800);
    let drained = loop {
        let at = released.elapsed();
        samples.push(Sample {
            at,
            rss_mib: proc_mib(pid, "VmRSS:"),
        });
        let finished = metric(
            &metrics(&client, &service.base).await,
            "consumer_events_total",
        );
        if finished > 0.0 && first_event.is_none() {
            first_event = Some(at);
        }
        if finished >= total {
            break at;
        }
        assert!(
            Instant::now() < deadline,
            "the backlog did not drain: {finished} of {total}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    draining.store(false, Ordering::Release);
    let load_at_drained = load_average();
    eprintln!("drained in {:.1} s", drained.as_secs_f64());
    let (accepts, accept_window) = load.await.unwrap();

    let backlog_ids = orders
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let completed_sql =
        format!("SELECT count(*) FROM orders WHERE status = 'completed' AND id IN ({backlog_ids})");
    let orders_completed = loop {
        if count(&db, &completed_sql).await == ORDERS as i64 || Instant::now() > deadline {
            break released.elapsed();
        }
        samples.push(Sample {
            at: released.elapsed(),
            rss_mib: proc_mib(pid, "VmRSS:"),
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The lag gauge comes with the client's statistics, every 5 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let final_metrics = metrics(&client, &service.base).await;
    let hwm_mib = proc_mib(pid, "VmHWM:");
    let backlog_completed = count(&db, &completed_sql).await;
    let statuses = statuses(&db).await;
    let processed = count(
        &db,
        "SELECT count(*) FROM processed_events WHERE consumer = 'order'",
    )
    .await;
    let progressed_to_end = count(
        &db,
        &format!(
            "SELECT count(*) FROM aggregate_progress WHERE consumer = 'order' \
             AND producer = 'fulfilment' AND last_seq = {EVENTS_PER_ORDER}"
        ),
    )
    .await;
    let dead_letters = count(&db, "SELECT count(*) FROM dead_letters").await;
    drop(service);
    let logged = |needle: &str| {
        ["setup", "order"]
            .iter()
            .map(|name| log_lines(&work.join(format!("{name}.log")), needle))
            .sum::<usize>()
    };
    db.close().await.ok();
    drop(broker);
    Drain {
        backlog_published,
        idle_rss,
        first_event: first_event.unwrap_or(drained),
        drained,
        orders_completed,
        samples,
        hwm_mib,
        accepts,
        accept_window,
        statuses,
        backlog_completed,
        processed,
        progressed_to_end,
        dead_letters,
        final_metrics,
        pool_timeouts: logged("pool timed out"),
        busy_logged: logged("database_busy"),
        errors_logged: logged("\"level\":\"ERROR\""),
        top_errors: top_errors(&[work.join("setup.log"), work.join("order.log")]),
        load: (load_at_release, load_at_drained),
        ignored_logged: logged("does not apply to the order's state"),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned()
}

/// The three most frequent messages of the JSON log lines at ERROR.
fn top_errors(logs: &[PathBuf]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for log in logs {
        for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if entry["level"] == "ERROR" {
                // Events are flattened: their fields sit beside `level`.
                let message = entry["message"].as_str().unwrap_or("?");
                let error = entry["error"].as_str().unwrap_or("");
                let text: String = format!("{message} {error}").chars().take(120).collect();
                *counts.entry(text.trim().to_owned()).or_default() += 1;
            }
        }
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    counts.truncate(3);
    counts
}

/// Lines of a log containing `needle` (case-insensitive).
fn log_lines(log: &std::path::Path, needle: &str) -> usize {
    let needle = needle.to_lowercase();
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.to_lowercase().contains(&needle))
        .count()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(drain: &Drain) -> String {
    let total = ORDERS as u64 * EVENTS_PER_ORDER;
    let peak = drain
        .samples
        .iter()
        .map(|sample| sample.rss_mib)
        .fold(f64::NAN, f64::max);
    let peak_at = drain
        .samples
        .iter()
        .find(|sample| sample.rss_mib == peak)
        .map_or(0.0, |sample| sample.at.as_secs_f64());
    let ok: Vec<f64> = {
        let mut ok: Vec<f64> = drain
            .accepts
            .iter()
            .filter(|(_, status, _)| *status == 202)
            .map(|(latency, _, _)| *latency)
            .collect();
        ok.sort_by(f64::total_cmp);
        ok
    };
    let mut all: Vec<f64> = drain
        .accepts
        .iter()
        .map(|(latency, _, _)| *latency)
        .collect();
    all.sort_by(f64::total_cmp);
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for (_, status, code) in &drain.accepts {
        if *status != 202 {
            *refused
                .entry(format!("{status} {}", code.as_deref().unwrap_or("-")))
                .or_default() += 1;
        }
    }
    let server_errors = drain
        .accepts
        .iter()
        .filter(|(_, status, _)| *status >= 500)
        .count();
    let drain_s = drain.drained.as_secs_f64();
    let consuming_s = (drain.drained - drain.first_event).as_secs_f64();
    let lag = metric(&drain.final_metrics, "consumer_lag");
    let pauses = metric(&drain.final_metrics, "consumer_pauses_total");
    let p99 = percentile(&all, 0.99);
    let yes = |ok: bool| if ok { "met" } else { "**missed**" };
    let overrides = overrides();
    let settings = if overrides.is_empty() {
        "the defaults of the configuration table".to_owned()
    } else {
        let named: Vec<String> = overrides
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect();
        format!("the defaults except {}", named.join(", "))
    };

    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "## Order backlog drain\n").unwrap();
    writeln!(
        w,
        "Command: `make bench-backlog` (`cargo bench -p recommerce --bench order_backlog`).\n"
    )
    .unwrap();
    writeln!(
        w,
        "- date: {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    )
    .unwrap();
    writeln!(w, "- machine: {}", platform::testing::machine_description()).unwrap();
    writeln!(
        w,
        "- setup: release build of `recommerce serve order`, its own process, configured by `APP_*` \
         variables (production profile, {settings}); a fresh PostgreSQL database, the shared Redis \
         (own key prefix) as sequencer, the embedded Kafka-protocol broker over loopback TCP \
         (`fulfilment.events` with {PARTITIONS} partitions, in the bench process), quote's lock \
         answered by a stub in the bench process; load generator on the same 2 cores"
    )
    .unwrap();
    writeln!(
        w,
        "- the backlog: {ORDERS} orders placed through `POST /v1/orders` and confirmed by the \
         order processor (a first instance, stopped); then {total} events on `fulfilment.events` \
         (published in {:.1} s), {EVENTS_PER_ORDER} per order keyed by order id with \
         `aggregate_seq` 1–{EVENTS_PER_ORDER}, as fulfilment publishes them up to an inspection: \
         JobCreated, PartnerAssigned, JobStatusChanged accepted, **PickupScheduled**, \
         JobStatusChanged picked_up, **DevicePickedUp**, JobStatusChanged completed, JobCreated, \
         PartnerAssigned, **InspectionCompleted** at the quoted price. Per order the handler \
         applies the three in bold (confirmed → pickup_scheduled → picked_up → inspected, each \
         with its timeline row and order event) and records the other seven, for which order has \
         no handler, as processed in sequence; the processor then pays the order out \
         (→ completed)",
        drain.backlog_published.as_secs_f64()
    )
    .unwrap();
    writeln!(
        w,
        "- held and released: the broker was taken down before the instance under test started; \
         its idle memory was taken {} s after it was ready, then the broker came back \
         (\"released\"); times count from then. Meanwhile orders were placed at {ACCEPT_RATE:.0}/s \
         (open loop, {SHOPPERS} shoppers, latency from each request's due time) until the \
         backlog was drained\n",
        SETTLE.as_secs()
    )
    .unwrap();
    writeln!(w, "| figure | value |").unwrap();
    writeln!(w, "|---|---:|").unwrap();
    writeln!(w, "| backlog | {total} events over {ORDERS} keys |").unwrap();
    writeln!(
        w,
        "| drained (every event finished, `consumer_events_total`) | {drain_s:.1} s after release: {:.0} events/s |",
        total as f64 / drain_s
    )
    .unwrap();
    writeln!(
        w,
        "| of which reconnecting to the broker (release → first event) | {:.1} s; consuming alone {consuming_s:.1} s: {:.0} events/s |",
        drain.first_event.as_secs_f64(),
        total as f64 / consuming_s
    )
    .unwrap();
    writeln!(
        w,
        "| backlog orders `completed` (paid out) | {} of {ORDERS}, all {:.1} s after release |",
        drain.backlog_completed,
        drain.orders_completed.as_secs_f64()
    )
    .unwrap();
    writeln!(
        w,
        "| events applied with an effect (recorded by id) / keys at `aggregate_seq` {EVENTS_PER_ORDER} (every event passed) / dead letters | {} / {} / {} |",
        drain.processed, drain.progressed_to_end, drain.dead_letters
    )
    .unwrap();
    writeln!(
        w,
        "| consumer lag after the drain (`consumer_lag`, summed) | {lag:.0} |"
    )
    .unwrap();
    writeln!(
        w,
        "| times the consumer stopped at its in-flight bound | {pauses:.0} |"
    )
    .unwrap();
    writeln!(
        w,
        "| resident memory idle, before release | {:.1} MiB |",
        drain.idle_rss
    )
    .unwrap();
    writeln!(
        w,
        "| peak resident memory while draining (VmRSS every 0.5 s) | {peak:.1} MiB ({:.2}× idle, at {peak_at:.0} s) |",
        peak / drain.idle_rss
    )
    .unwrap();
    writeln!(
        w,
        "| VmHWM of the process at the end | {:.1} MiB |",
        drain.hwm_mib
    )
    .unwrap();
    writeln!(
        w,
        "| \"pool timed out\" in the service's log (both instances) | {} |",
        drain.pool_timeouts
    )
    .unwrap();
    writeln!(
        w,
        "| `database_busy` / ERROR lines / \"does not apply\" lines in the log | {} / {} / {} |",
        drain.busy_logged, drain.errors_logged, drain.ignored_logged
    )
    .unwrap();
    if !drain.top_errors.is_empty() {
        writeln!(
            w,
            "| most frequent ERROR lines | {} |",
            drain
                .top_errors
                .iter()
                .map(|(text, n)| format!("{} ×{n}", text.replace('|', "/")))
                .collect::<Vec<_>>()
                .join("; ")
        )
        .unwrap();
    }
    writeln!(
        w,
        "| machine load average (1 min) at release / when drained | {} / {} |",
        drain.load.0, drain.load.1
    )
    .unwrap();
    writeln!(
        w,
        "| orders placed during the drain | {} due in {:.1} s ({ACCEPT_RATE:.0}/s), {} answered 202, {server_errors} 5xx{} |",
        drain.accepts.len(),
        drain.accept_window.as_secs_f64(),
        ok.len(),
        if refused.is_empty() {
            String::new()
        } else {
            format!(
                "; not 202: {}",
                refused
                    .iter()
                    .map(|(what, n)| format!("{what} ×{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )
    .unwrap();
    writeln!(
        w,
        "| accept latency during the drain, p50 / p99 / max | {:.1} / {p99:.1} / {:.1} ms |",
        percentile(&all, 0.5),
        all.last().copied().unwrap_or(f64::NAN)
    )
    .unwrap();
    writeln!(
        w,
        "| order states at the end | {} |",
        drain
            .statuses
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    writeln!(w).unwrap();
    writeln!(
        w,
        "Goals: peak resident memory under {RSS_GOAL_MIB:.0} MiB {} (VmHWM {:.1} MiB); no pool \
         timeout {}; accept p99 ≤ {P99_GOAL_MS:.0} ms while draining {}; every event applied \
         {}.",
        yes(peak < RSS_GOAL_MIB),
        drain.hwm_mib,
        yes(drain.pool_timeouts == 0),
        yes(p99 <= P99_GOAL_MS && server_errors == 0),
        yes(drain.backlog_completed == ORDERS as i64
            && drain.processed == (ORDERS * HANDLED_PER_ORDER) as i64
            && drain.progressed_to_end == ORDERS as i64
            && drain.dead_letters == 0)
    )
    .unwrap();
    out
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("bench_order_backlog_{}", Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("PostgreSQL is running");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let database_url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let work = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&work).unwrap();

    let outcome = AssertUnwindSafe(run(&database_url, &work))
        .catch_unwind()
        .await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .ok();
    match outcome {
        Ok(drain) => {
            let _ = std::fs::remove_dir_all(&work);
            let report = report(&drain);
            std::io::stdout().write_all(report.as_bytes()).unwrap();
        }
        Err(panic) => {
            eprintln!("the service logs are kept in {}", work.display());
            std::panic::resume_unwind(panic);
        }
    }
}
