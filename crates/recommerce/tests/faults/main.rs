//! The crash suite (`make test-faults`): the five services as separate `recommerce serve`
//! processes on PostgreSQL, a private Redis and `recommerce broker` (its own port and data
//! directory), taking a thousand orders at a fixed rate while every service is killed with
//! SIGKILL twice, quote stays down for 10 s, the broker is frozen for 15 s and Redis is
//! restarted. Then it checks what the platform promises and prints a table of it: every 202
//! order exists once and reaches `pickup_scheduled` with a partner; timelines and event
//! streams are gap-free and in order; one job per order; the portal agrees with
//! fulfilment; no partner above capacity; no dead letter; no 5xx.
//!
//! It is `#[ignore]`d so that the workspace run does not start it a second time;
//! `make test-faults` runs it (and `make test` runs that).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../cli/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use platform::auth::Role;
use platform::testing::{PrivateRedis, TEST_JWT_SECRET, free_port};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

use helpers::{Running, recommerce};

const ORDERS: usize = 1000;
const RATE_PER_SECOND: f64 = 12.0;
/// One order in ten is sent a second time under the same key.
const RESEND_EVERY: usize = 10;
const PINCODE: &str = "560001";
const SERVICES: [&str; 5] = ["catalog", "quote", "order", "fulfilment", "partner-portal"];
/// How long everything may take to settle once placing and the faults are over.
const SETTLE: Duration = Duration::from_secs(300);

/// One service process, restartable on its port with the same environment.
struct Process {
    name: &'static str,
    port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
    running: Option<Running>,
}

impl Process {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = recommerce()
            .args(["serve", self.name])
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .env("APP_HTTP__PORT", self.port.to_string())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.running = Some(Running(child));
        let http = reqwest::Client::new();
        let ready = self.url("/health/ready");
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if http
                .get(&ready)
                .send()
                .await
                .is_ok_and(|response| response.status() == 200)
            {
                return;
            }
            if let Some(running) = &mut self.running
                && let Some(status) = running.0.try_wait().unwrap()
            {
                panic!(
                    "{} exited with {status}; see {}",
                    self.name,
                    self.log.display()
                );
            }
            assert!(
                Instant::now() < until,
                "{} was not ready within 60 s; see {}",
                self.name,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, as a crash or an OOM kill would end it.
    async fn kill(&mut self) {
        if let Some(mut running) = self.running.take() {
            running.signal("KILL");
            running.exited_within(Duration::from_secs(10)).await;
        }
    }
}

struct Deployment {
    workdir: PathBuf,
    databases: HashMap<&'static str, String>,
    broker_port: u16,
    broker: Option<Running>,
    ports: HashMap<&'static str, u16>,
    processes: HashMap<&'static str, Arc<Mutex<Process>>>,
}

impl Deployment {
    async fn start(redis_url: &str) -> Self {
        let run = Uuid::new_v4().simple().to_string();
        let workdir = std::env::temp_dir().join(format!("faults-{run}"));
        std::fs::create_dir_all(&workdir).unwrap();
        let broker_port = free_port();
        let ports: HashMap<&'static str, u16> =
            SERVICES.iter().map(|name| (*name, free_port())).collect();
        let mut deployment = Self {
            workdir,
            databases: HashMap::new(),
            broker_port,
            broker: None,
            ports: ports.clone(),
            processes: HashMap::new(),
        };
        deployment.broker = Some(start_broker(broker_port, &deployment.workdir).await);
        let url = |name: &str| format!("http://127.0.0.1:{}", ports[name]);
        for name in SERVICES {
            let database = platform::testing::fresh_postgres_database(&format!(
                "faults_{}",
                name.replace('-', "_")
            ))
            .await;
            deployment.databases.insert(name, database.clone());
            let mut env: Vec<(String, String)> = [
                ("APP_PROFILE", "test".to_owned()),
                ("APP_AUTH__JWT_SECRET", TEST_JWT_SECRET.to_owned()),
                ("APP_DATABASE__URL", database),
                ("APP_REDIS__URL", redis_url.to_owned()),
                ("APP_REDIS__KEY_PREFIX", format!("faults-{run}")),
                ("APP_KAFKA__BROKERS", format!("127.0.0.1:{broker_port}")),
                ("APP_HTTP__WORKERS", "2".to_owned()),
                ("APP_HTTP__SHUTDOWN_GRACE_SECONDS", "5".to_owned()),
                ("APP_HTTP__RATE_LIMIT__PER_SECOND", "100000".to_owned()),
                ("APP_HTTP__RATE_LIMIT__BURST", "100000".to_owned()),
                ("APP_HTTP__SUSTAINED_IN_FLIGHT", "0".to_owned()),
                ("APP_TELEMETRY__LOG_LEVEL", "warn".to_owned()),
            ]
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
            match name {
                "catalog" => env.push(("APP_CATALOG__SEED_ON_START".into(), "true".into())),
                "quote" => env.push(("APP_QUOTE__CATALOG_URL".into(), url("catalog"))),
                "order" => env.push(("APP_ORDER__QUOTE_URL".into(), url("quote"))),
                "fulfilment" => env.push(("APP_FULFILMENT__QUOTE_URL".into(), url("quote"))),
                _ => {}
            }
            let process = Process {
                name,
                port: ports[name],
                env,
                log: deployment.workdir.join(format!("{name}.log")),
                running: None,
            };
            deployment
                .processes
                .insert(name, Arc::new(Mutex::new(process)));
        }
        for name in SERVICES {
            deployment.processes[name].lock().await.start().await;
        }
        deployment
    }

    fn url(&self, name: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[name])
    }

    async fn database(&self, name: &str) -> DatabaseConnection {
        Database::connect(&self.databases[name]).await.unwrap()
    }
}

/// `recommerce broker` on `port` with its data in `workdir`: the same address and the same
/// topics and offsets after a restart.
async fn start_broker(port: u16, workdir: &std::path::Path) -> Running {
    let file = workdir.join("broker.addr");
    let _ = std::fs::remove_file(&file);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(workdir.join("broker.log"))
        .unwrap();
    let running = Running(
        recommerce()
            .args(["broker", "--port", &port.to_string(), "--data-dir"])
            .arg(workdir.join("broker-data"))
            .arg("--file")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    platform::testing::eventually(Duration::from_secs(60), "the broker", || async {
        std::fs::read_to_string(&file).is_ok_and(|address| address.ends_with('\n'))
    })
    .await;
    running
}

fn token(subject: &str, role: Role, partner: Option<Uuid>) -> String {
    let base = platform::config::Layers::defaults(platform::config::ServiceDefaults {
        name: "faults",
        port: 0,
    })
    .unwrap()
    .set("profile", "test")
    .unwrap()
    .set("auth.jwt_secret", TEST_JWT_SECRET)
    .unwrap()
    .base()
    .unwrap();
    platform::auth::Authenticator::new(&base.auth)
        .issue(subject, role, partner, Duration::from_secs(3600))
        .unwrap()
}

/// What the generator saw.
#[derive(Default)]
struct Answers {
    /// Idempotency-Key → the order id of its first 202.
    accepted: BTreeMap<String, Uuid>,
    /// A key answered with two different orders.
    split_keys: Vec<String>,
    server_errors: Vec<String>,
    /// Requests that never got a 202 within their retry budget.
    gave_up: usize,
}

async fn place(
    http: &reqwest::Client,
    url: &str,
    shopper: &str,
    key: &str,
    quote_id: &str,
) -> Result<(u16, Value), String> {
    let response = http
        .post(url)
        .bearer_auth(shopper)
        .header("Idempotency-Key", key)
        .json(&system_tests::order_body(quote_id))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

/// Sends one order, and again under the same key while it gets no answer (a shopper's
/// retry); `resend`: once more after its 202.
async fn order_with_retries(
    http: reqwest::Client,
    url: String,
    shopper: String,
    quote_id: String,
    resend: bool,
    answers: Arc<Mutex<Answers>>,
    attempts: Arc<AtomicU64>,
) {
    let key = Uuid::new_v4().to_string();
    let until = Instant::now() + Duration::from_secs(120);
    let mut first: Option<Uuid> = None;
    while Instant::now() < until {
        attempts.fetch_add(1, Ordering::Relaxed);
        match place(&http, &url, &shopper, &key, &quote_id).await {
            Ok((200 | 202, body)) => {
                let id: Uuid = body["id"].as_str().unwrap_or_default().parse().unwrap();
                match first {
                    None => first = Some(id),
                    Some(earlier) if earlier != id => {
                        answers.lock().await.split_keys.push(key.clone());
                    }
                    Some(_) => {}
                }
                if resend && first.is_some() {
                    // The resend, once: it must name the same order.
                    attempts.fetch_add(1, Ordering::Relaxed);
                    if let Ok((200 | 202, body)) =
                        place(&http, &url, &shopper, &key, &quote_id).await
                        && body["id"].as_str() != first.map(|id| id.to_string()).as_deref()
                    {
                        answers.lock().await.split_keys.push(key.clone());
                    }
                }
                break;
            }
            Ok((status, body)) if status >= 500 => {
                answers
                    .lock()
                    .await
                    .server_errors
                    .push(format!("POST /v1/orders {status} {body}"));
                if status != 503 {
                    break;
                }
            }
            Ok((status, body)) => panic!("order refused with {status}: {body}"),
            Err(_) => {} // not up: try again, as a shopper's app would
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut answers = answers.lock().await;
    match first {
        Some(id) => {
            answers.accepted.insert(key, id);
        }
        None => answers.gave_up += 1,
    }
}

/// Each partner's dispatcher: accepts every job offered to it until `stop`.
async fn dispatch(http: reqwest::Client, portal: String, token: String, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let offered = http
            .get(format!(
                "{portal}/v1/portal/jobs?status=offered&per_page=100"
            ))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        let jobs = match offered {
            Ok(response) if response.status() == 200 => response
                .json::<Value>()
                .await
                .ok()
                .and_then(|list| list["items"].as_array().cloned())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if jobs.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        for job in jobs {
            if let Some(id) = job["id"].as_str() {
                let _ = http
                    .post(format!("{portal}/v1/portal/jobs/{id}/accept"))
                    .bearer_auth(&token)
                    .json(&json!({}))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
            }
        }
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .and_then(|row| row.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0)
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
}

/// Every event on `topic`, read to the end of each partition.
async fn read_topic(brokers: &str, topic: &str) -> Vec<events::Envelope> {
    use prost::Message as _;
    use rdkafka::Message as _;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let brokers = brokers.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set(
                "group.id",
                format!("faults-reader-{}", Uuid::new_v4().simple()),
            )
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .unwrap();
        let mut ends = HashMap::new();
        let mut list = rdkafka::TopicPartitionList::new();
        for partition in metadata.topics()[0].partitions() {
            let (_, high) = consumer
                .fetch_watermarks(&topic, partition.id(), Duration::from_secs(10))
                .unwrap();
            if high > 0 {
                ends.insert(partition.id(), high);
                list.add_partition_offset(&topic, partition.id(), rdkafka::Offset::Beginning)
                    .unwrap();
            }
        }
        consumer.assign(&list).unwrap();
        let mut read = Vec::new();
        let mut done: BTreeSet<i32> = BTreeSet::new();
        let until = Instant::now() + Duration::from_secs(120);
        while done.len() < ends.len() && Instant::now() < until {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                if let Some(payload) = message.payload() {
                    read.push(events::Envelope::decode(payload).unwrap());
                }
                if message.offset() + 1 >= ends[&message.partition()] {
                    done.insert(message.partition());
                }
            }
        }
        assert_eq!(done.len(), ends.len(), "{topic} read to its end");
        read
    })
    .await
    .unwrap()
}

/// Per (producer, aggregate), the sequence numbers seen must be exactly 1..=n.
fn stream_gaps(read: &[events::Envelope], only: &BTreeSet<String>) -> Vec<String> {
    let mut seqs: HashMap<(String, String), BTreeSet<u64>> = HashMap::new();
    for envelope in read {
        if only.contains(&envelope.aggregate_id) {
            seqs.entry((envelope.producer.clone(), envelope.aggregate_id.clone()))
                .or_default()
                .insert(envelope.aggregate_seq);
        }
    }
    seqs.into_iter()
        .filter(|(_, seen)| {
            seen.iter()
                .copied()
                .ne(1..=u64::try_from(seen.len()).unwrap_or(0))
        })
        .map(|((producer, aggregate), seen)| format!("{producer}/{aggregate}: {seen:?}"))
        .collect()
}

#[tokio::test]
#[ignore = "the crash suite: `make test-faults`"]
async fn a_thousand_orders_survive_every_service_killed_twice_quote_down_the_broker_frozen_and_redis_restarted()
 {
    let started = Instant::now();
    let phase = |name: &str| eprintln!("[{:>6.1}s] {name}", started.elapsed().as_secs_f64());
    let mut redis = PrivateRedis::start();
    let mut deployment = Deployment::start(&redis.url()).await;
    eprintln!("logs in {}", deployment.workdir.display());
    phase("five services, broker and Redis up");
    let http = reqwest::Client::new();
    let admin = token("faults-admin", Role::Admin, None);
    let shopper = token("faults-shopper", Role::Shopper, None);

    // Partners that accept whatever they are offered, through the portal.
    let mut dispatchers = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut capacities = HashMap::new();
    for n in 0..3 {
        let capacity = 400;
        let partner: Value = http
            .post(deployment.url("fulfilment", "/v1/admin/partners"))
            .bearer_auth(&admin)
            .json(
                &json!({"name": format!("Faults Riders {n}"), "kind": "logistics",
                "pincodes": [PINCODE], "daily_capacity": capacity}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let partner_id: Uuid = partner["id"].as_str().unwrap().parse().unwrap();
        capacities.insert(partner_id, capacity);
        let user: Value = http
            .post(deployment.url("partner-portal", "/v1/portal/admin/users"))
            .bearer_auth(&admin)
            .json(
                &json!({"partner_id": partner_id, "email": format!("riders{n}@faults.example"),
                "name": format!("Riders {n}")}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let issued: Value = http
            .post(deployment.url(
                "partner-portal",
                &format!(
                    "/v1/portal/admin/users/{}/tokens",
                    user["id"].as_str().unwrap()
                ),
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        dispatchers.push(tokio::spawn(dispatch(
            http.clone(),
            deployment.url("partner-portal", ""),
            issued["token"].as_str().unwrap().to_owned(),
            stop.clone(),
        )));
    }

    // A quote per order, issued before the faults begin.
    let devices: Value = http
        .get(deployment.url("catalog", "/v1/devices?category=phone"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_id = devices["items"][0]["id"].as_str().unwrap().to_owned();
    let detail: Value = http
        .get(deployment.url("catalog", &format!("/v1/devices/{device_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answers: Vec<Value> = detail["questionnaire"]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|question| json!({"question_id": question["id"], "option_id": question["options"][0]["id"]}))
        .collect();
    let quote_body =
        json!({"variant_id": detail["variants"][0]["id"], "answers": answers, "pincode": PINCODE});
    let quote_url = deployment.url("quote", "/v1/quotes");
    use futures_util::StreamExt as _;
    let quotes: Vec<String> = futures_util::stream::iter(0..ORDERS)
        .map(|_| {
            let http = http.clone();
            let url = quote_url.clone();
            let body = quote_body.clone();
            let shopper = shopper.clone();
            async move {
                let response = http
                    .post(url)
                    .bearer_auth(shopper)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                response.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    phase("1000 quotes issued, 3 partners dispatching");

    // The faults, while the orders come in.
    let faults = {
        let processes = deployment.processes.clone();
        let mut broker = deployment.broker.take().unwrap();
        let broker_port = deployment.broker_port;
        let workdir = deployment.workdir.clone();
        tokio::spawn(async move {
            let at = Instant::now();
            let log =
                |what: &str| eprintln!("  fault at {:>5.1}s: {what}", at.elapsed().as_secs_f64());
            let crash = |name: &'static str| {
                let process = processes[name].clone();
                async move {
                    let mut process = process.lock().await;
                    process.kill().await;
                    process.start().await;
                }
            };
            let mut done = Vec::new();
            for round in 0..2 {
                tokio::time::sleep(Duration::from_secs(6)).await;
                for name in ["order", "fulfilment", "partner-portal", "catalog"] {
                    log(&format!("kill -9 {name} (round {})", round + 1));
                    crash(name).await;
                    done.push(format!("{name} killed"));
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                log("quote down for 10 s (kill -9)");
                processes["quote"].lock().await.kill().await;
                tokio::time::sleep(Duration::from_secs(10)).await;
                processes["quote"].lock().await.start().await;
                done.push("quote killed for 10 s".into());
                if round == 0 {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    log("broker frozen for 15 s (SIGSTOP)");
                    signal(broker.pid(), "STOP");
                    tokio::time::sleep(Duration::from_secs(15)).await;
                    signal(broker.pid(), "CONT");
                    done.push("broker frozen 15 s".into());
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    log("Redis restarted");
                    redis.restart();
                    done.push("Redis restarted".into());
                } else {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    log("broker restarted in place (SIGTERM; same port and data directory)");
                    broker.signal("TERM");
                    broker.exited_within(Duration::from_secs(30)).await;
                    broker = start_broker(broker_port, &workdir).await;
                    done.push("broker restarted in place".into());
                }
            }
            (done, redis, broker)
        })
    };

    // Orders at a fixed rate, whatever the answers.
    let answers = Arc::new(Mutex::new(Answers::default()));
    let attempts = Arc::new(AtomicU64::new(0));
    let order_url = deployment.url("order", "/v1/orders");
    let mut sending = Vec::with_capacity(ORDERS);
    let gap = Duration::from_secs_f64(1.0 / RATE_PER_SECOND);
    let placing = tokio::time::Instant::now();
    for (n, quote_id) in quotes.iter().enumerate() {
        tokio::time::sleep_until(placing + gap * u32::try_from(n).unwrap()).await;
        sending.push(tokio::spawn(order_with_retries(
            http.clone(),
            order_url.clone(),
            shopper.clone(),
            quote_id.clone(),
            n % RESEND_EVERY == 0,
            answers.clone(),
            attempts.clone(),
        )));
    }
    for sent in sending {
        sent.await.unwrap();
    }
    phase("every order sent");
    let (faults_done, _redis, broker) = faults.await.unwrap();
    deployment.broker = Some(broker);
    phase("the faults are over");
    let answers = std::mem::take(&mut *answers.lock().await);
    let accepted: BTreeSet<Uuid> = answers.accepted.values().copied().collect();
    let ids = |set: &BTreeSet<Uuid>| {
        set.iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let in_list = ids(&accepted);

    // Settle: every accepted order at pickup_scheduled.
    let order_db = deployment.database("order").await;
    let until = Instant::now() + SETTLE;
    let mut scheduled = 0;
    while Instant::now() < until {
        scheduled = count(
            &order_db,
            &format!(
                "SELECT COUNT(*) FROM orders WHERE id IN ({in_list}) AND status = 'pickup_scheduled'"
            ),
        )
        .await;
        if scheduled == i64::try_from(accepted.len()).unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    phase("settled");
    stop.store(true, Ordering::Relaxed);
    for dispatcher in dispatchers {
        dispatcher.await.unwrap();
    }

    // The invariants.
    let mut table: Vec<(&str, String, bool)> = Vec::new();
    let found = count(
        &order_db,
        &format!("SELECT COUNT(*) FROM orders WHERE id IN ({in_list})"),
    )
    .await;
    table.push((
        "every 202 order exists exactly once (one id per key, one row per id)",
        format!(
            "{} keys answered 202, {} distinct orders, {} rows, {} keys with two orders, {} gave up",
            answers.accepted.len(),
            accepted.len(),
            found,
            answers.split_keys.len(),
            answers.gave_up
        ),
        answers.accepted.len() == accepted.len()
            && found == i64::try_from(accepted.len()).unwrap()
            && answers.split_keys.is_empty()
            && accepted.len() == ORDERS,
    ));
    table.push((
        "every order reaches pickup_scheduled",
        format!("{scheduled} of {}", accepted.len()),
        scheduled == i64::try_from(accepted.len()).unwrap(),
    ));
    let timelines = rows(
        &order_db,
        &format!(
            "SELECT order_id::text AS id, COUNT(*) AS n, MIN(seq) AS first, MAX(seq) AS last \
             FROM order_timeline WHERE order_id IN ({in_list}) GROUP BY order_id"
        ),
    )
    .await;
    let broken_timelines = timelines
        .iter()
        .filter(|row| {
            let n: i64 = row.try_get("", "n").unwrap();
            let first: i64 = row.try_get("", "first").unwrap();
            let last: i64 = row.try_get("", "last").unwrap();
            first != 1 || last != n
        })
        .count();
    let brokers = format!("127.0.0.1:{}", deployment.broker_port);
    let aggregates: BTreeSet<String> = accepted.iter().map(Uuid::to_string).collect();
    let mut stream_problems = Vec::new();
    for topic in [
        events::topics::ORDER_EVENTS,
        events::topics::FULFILMENT_EVENTS,
    ] {
        let read = read_topic(&brokers, topic).await;
        stream_problems.extend(stream_gaps(&read, &aggregates));
    }
    table.push((
        "timelines and each topic's per-order aggregate_seq gap-free and in order",
        format!(
            "{} timelines, {broken_timelines} broken; {} streams with a gap{}",
            timelines.len(),
            stream_problems.len(),
            stream_problems
                .first()
                .map(|first| format!(" (e.g. {first})"))
                .unwrap_or_default()
        ),
        broken_timelines == 0 && timelines.len() == accepted.len() && stream_problems.is_empty(),
    ));
    let fulfilment_db = deployment.database("fulfilment").await;
    let jobs_per_order = rows(
        &fulfilment_db,
        "SELECT order_id::text AS id, COUNT(*) AS n FROM jobs WHERE kind = 'pickup' GROUP BY order_id",
    )
    .await;
    let with_one_job = jobs_per_order
        .iter()
        .filter(|row| {
            let id: String = row.try_get("", "id").unwrap();
            row.try_get::<i64>("", "n").unwrap() == 1 && aggregates.contains(&id)
        })
        .count();
    table.push((
        "exactly one pickup job per order",
        format!("{with_one_job} of {} orders", accepted.len()),
        with_one_job == accepted.len() && jobs_per_order.len() == accepted.len(),
    ));
    let portal_db = deployment.database("partner-portal").await;
    let read_model = |db: &DatabaseConnection, table: &str| {
        let sql = format!(
            "SELECT id::text AS id, status, COALESCE(partner_id::text, '') AS partner FROM {table}"
        );
        let db = db.clone();
        async move {
            rows(&db, &sql)
                .await
                .into_iter()
                .map(|row| {
                    (
                        row.try_get::<String>("", "id").unwrap(),
                        (
                            row.try_get::<String>("", "status").unwrap(),
                            row.try_get::<String>("", "partner").unwrap(),
                        ),
                    )
                })
                .collect::<BTreeMap<_, _>>()
        }
    };
    let fulfilment_jobs = read_model(&fulfilment_db, "jobs").await;
    let portal_jobs = read_model(&portal_db, "portal_jobs").await;
    let differing = fulfilment_jobs
        .iter()
        .filter(|(id, job)| portal_jobs.get(*id) != Some(job))
        .count();
    table.push((
        "the portal's read model matches fulfilment",
        format!(
            "{} jobs in fulfilment, {} in the portal, {differing} differ",
            fulfilment_jobs.len(),
            portal_jobs.len()
        ),
        differing == 0 && fulfilment_jobs.len() == portal_jobs.len(),
    ));
    let loads = rows(
        &fulfilment_db,
        "SELECT partner_id::text AS partner, day, COUNT(*) AS n FROM jobs \
         WHERE partner_id IS NOT NULL AND status <> 'cancelled' GROUP BY partner_id, day",
    )
    .await;
    let over = loads
        .iter()
        .filter(|row| {
            let partner: Uuid = row
                .try_get::<String>("", "partner")
                .unwrap()
                .parse()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap() > capacities[&partner]
        })
        .count();
    let heaviest = loads
        .iter()
        .map(|row| row.try_get::<i64>("", "n").unwrap())
        .max()
        .unwrap_or(0);
    table.push((
        "no partner above its capacity",
        format!("{over} over; the busiest holds {heaviest} of 400"),
        over == 0,
    ));
    let mut dead_letters = Vec::new();
    for name in SERVICES {
        let db = deployment.database(name).await;
        let n = count(&db, "SELECT COUNT(*) FROM dead_letters").await;
        if n > 0 {
            dead_letters.push(format!("{name}: {n}"));
        }
    }
    table.push((
        "zero dead letters",
        if dead_letters.is_empty() {
            "0 in all five services".to_owned()
        } else {
            dead_letters.join(", ")
        },
        dead_letters.is_empty(),
    ));
    table.push((
        "zero 5xx answered",
        format!(
            "{} of {} requests{}",
            answers.server_errors.len(),
            attempts.load(Ordering::Relaxed),
            answers
                .server_errors
                .first()
                .map(|first| format!(" (first: {first})"))
                .unwrap_or_default()
        ),
        answers.server_errors.is_empty(),
    ));

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ncrash suite: {ORDERS} orders at {RATE_PER_SECOND}/s (1 in {RESEND_EVERY} resent under its key), {:.0} s in all",
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(out, "faults: {}\n", faults_done.join("; "));
    let _ = writeln!(out, "| invariant | measured | holds |");
    let _ = writeln!(out, "|---|---|---|");
    for (name, measured, holds) in &table {
        let _ = writeln!(
            out,
            "| {name} | {measured} | {} |",
            if *holds { "yes" } else { "NO" }
        );
    }
    println!("{out}");
    assert!(
        table.iter().all(|(_, _, holds)| *holds),
        "an invariant does not hold; logs in {}",
        deployment.workdir.display()
    );
    for name in SERVICES {
        deployment.processes[name].lock().await.kill().await;
    }
    let _ = std::fs::remove_dir_all(&deployment.workdir);
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}
