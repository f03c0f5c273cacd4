//! The pipeline run: orders placed at half the accept capacity for a minute, each on a real
//! quote of its own, carried by order's processor (quote lock → `confirmed`), fulfilment
//! (a pickup job offered to a partner), the portal (partners accept their offers, as a
//! dispatcher would) and back to order (`pickup_scheduled`). It shows whether the stages
//! behind accept keep up, and at what rate orders come out at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use platform::auth::Role;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use system_tests::{Partner, Platform, Service};
use uuid::Uuid;

pub const RUN: Duration = Duration::from_secs(60);
/// How long the run may take to carry what was placed, after placing stops.
const DRAIN_LIMIT: Duration = Duration::from_secs(180);
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// A partner holds at most 1,000 jobs a day (fulfilment's limit): one per 900 orders.
const ORDERS_PER_PARTNER: usize = 900;
const SHOPPER: &str = "pipeline-shopper";

/// Where the services of the run answer.
pub struct Stages<'a> {
    pub platform: &'a Platform,
    pub catalog: &'a Service,
    pub quote: &'a Service,
    pub order: &'a Service,
    pub fulfilment: &'a Service,
    pub portal: &'a Service,
}

/// Order counts by stage at one moment of the run.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    seconds: f64,
    /// Placed and not yet confirmed: the processor's backlog.
    received: i64,
    /// Confirmed and waiting for a partner's acceptance.
    confirmed: i64,
    /// At `pickup_scheduled` (or beyond).
    scheduled: i64,
    rejected: i64,
}

pub struct Pipeline {
    rate: f64,
    quotes_per_second: f64,
    partners: usize,
    accepted: usize,
    failed: usize,
    accept_p99_ms: f64,
    samples: Vec<Sample>,
    /// From the first order placed until every accepted order was scheduled (or the limit).
    all_scheduled_after: Option<f64>,
}

impl Pipeline {
    pub async fn run(rate: f64, stages: Stages<'_>) -> Self {
        let orders = (rate * RUN.as_secs_f64()).round() as usize;
        let platform = stages.platform;
        let shopper = platform.token(SHOPPER, Role::Shopper);
        let device = platform.device(stages.catalog).await;

        // Every order needs a quote of its own: a quote is locked by one order only.
        let started = Instant::now();
        let quotes: Vec<String> = futures_util::stream::iter(0..orders)
            .map(|_| {
                let shopper = shopper.clone();
                let device = &device;
                async move {
                    platform
                        .quote_for(stages.quote, &shopper, device.variant_id, &device.best)
                        .await["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let quotes_per_second = orders as f64 / started.elapsed().as_secs_f64();
        eprintln!("pipeline: {orders} quotes issued at {quotes_per_second:.0}/s");

        let partner_count = orders / ORDERS_PER_PARTNER + 1;
        let mut partners = Vec::with_capacity(partner_count);
        for n in 0..partner_count {
            partners.push(
                platform
                    .register_partner(
                        stages.fulfilment,
                        stages.portal,
                        &format!("Pipeline Riders {n}"),
                        "logistics",
                        &["560001"],
                        1000,
                    )
                    .await,
            );
        }
        // Fulfilment learns of partners at once; let the portal's read side settle too.
        tokio::time::sleep(Duration::from_secs(2)).await;

        let stop = Arc::new(AtomicBool::new(false));
        let dispatchers = tokio::spawn(dispatch(
            platform.http.clone(),
            stages.portal.url(""),
            partners,
            stop.clone(),
        ));
        let db = sea_orm::Database::connect(&stages.order.database_url)
            .await
            .unwrap();
        let started = Instant::now();
        let sampling = {
            let db = db.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut all_scheduled_after = None;
                loop {
                    tokio::time::sleep(SAMPLE_EVERY).await;
                    let mut sample = sample(&db).await;
                    sample.seconds = started.elapsed().as_secs_f64();
                    samples.push(sample);
                    let placing_done = sample.seconds > RUN.as_secs_f64();
                    if placing_done
                        && sample.received == 0
                        && sample.confirmed == 0
                        && all_scheduled_after.is_none()
                    {
                        all_scheduled_after = Some(sample.seconds);
                    }
                    if all_scheduled_after.is_some()
                        || started.elapsed() > RUN + DRAIN_LIMIT
                        || stop.load(Ordering::Relaxed)
                    {
                        return (samples, all_scheduled_after);
                    }
                }
            })
        };

        let quotes = Arc::new(quotes);
        let url = Arc::new(stages.order.url("/v1/orders"));
        let client = platform.http.clone();
        let outcomes = super::open_loop_outcomes(rate, RUN, move |n| {
            let quotes = quotes.clone();
            let url = url.clone();
            let client = client.clone();
            let shopper = shopper.clone();
            async move {
                let Some(quote) = quotes.get(n as usize) else {
                    return false;
                };
                client
                    .post(url.as_str())
                    .bearer_auth(&shopper)
                    .header("Idempotency-Key", Uuid::new_v4().to_string())
                    .json(&system_tests::order_body(quote))
                    .send()
                    .await
                    .is_ok_and(|response| response.status() == 202)
            }
        })
        .await;
        let (samples, all_scheduled_after) = sampling.await.unwrap();
        stop.store(true, Ordering::Relaxed);
        dispatchers.await.unwrap();

        let mut latencies: Vec<f64> = outcomes.iter().map(|(latency, _)| *latency).collect();
        latencies.sort_by(f64::total_cmp);
        let accepted = outcomes.iter().filter(|(_, ok)| *ok).count();
        Self {
            rate,
            quotes_per_second,
            partners: partner_count,
            accepted,
            failed: outcomes.len() - accepted,
            accept_p99_ms: super::percentile(&latencies, 0.99),
            samples,
            all_scheduled_after,
        }
    }

    pub fn write(&self, out: &mut String) {
        let run = RUN.as_secs_f64();
        let at_end_of_placing = self
            .samples
            .iter()
            .rev()
            .find(|sample| sample.seconds <= run + 0.5)
            .copied()
            .unwrap_or_default();
        let last = self.samples.last().copied().unwrap_or_default();
        let _ = writeln!(
            out,
            "\n### Pipeline at half the accept capacity\n\n{} orders/s placed for {} s, each on a quote of its own, with {} logistics partners accepting their offers through the portal (one dispatcher per partner polling its offered jobs). {} accepted (202), {} failed, accept p99 {:.1} ms; quotes were issued beforehand at {:.0}/s.\n",
            self.rate.round(),
            RUN.as_secs(),
            self.partners,
            self.accepted,
            self.failed,
            self.accept_p99_ms,
            self.quotes_per_second
        );
        let _ = writeln!(
            out,
            "| s since the first order | received (processor backlog) | confirmed (awaiting a partner) | pickup_scheduled | rejected |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
        for sample in &self.samples {
            let _ = writeln!(
                out,
                "| {:.0} | {} | {} | {} | {} |",
                sample.seconds,
                sample.received,
                sample.confirmed,
                sample.scheduled,
                sample.rejected
            );
        }
        let confirmed_in_run = at_end_of_placing.confirmed + at_end_of_placing.scheduled;
        let _ = writeln!(
            out,
            "\nCarried during the {} s of placing: **{:.0} orders/s to `confirmed`** and **{:.0} orders/s to `pickup_scheduled`** (orders at or past the stage at {:.0} s ÷ that time).",
            RUN.as_secs(),
            confirmed_in_run as f64 / at_end_of_placing.seconds.max(1.0),
            at_end_of_placing.scheduled as f64 / at_end_of_placing.seconds.max(1.0),
            at_end_of_placing.seconds
        );
        let kept_up = at_end_of_placing.received as f64 <= 2.0 * self.rate;
        let _ = writeln!(
            out,
            "Placed → confirmed {} (processor backlog {} orders when placing stopped; kept up means at most 2 s of orders).",
            if kept_up {
                "kept up"
            } else {
                "did NOT keep up"
            },
            at_end_of_placing.received
        );
        match self.all_scheduled_after {
            Some(seconds) => {
                let _ = writeln!(
                    out,
                    "Every accepted order reached `pickup_scheduled` (or was rejected) {seconds:.0} s after the first was placed: {:.0} orders/s end to end.",
                    last.scheduled as f64 / seconds
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "NOT every accepted order reached `pickup_scheduled` within {} s after placing stopped ({} still received, {} confirmed).",
                    DRAIN_LIMIT.as_secs(),
                    last.received,
                    last.confirmed
                );
            }
        }
    }
}

/// The run's orders by stage.
async fn sample(db: &sea_orm::DatabaseConnection) -> Sample {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT status, COUNT(*) AS n FROM orders WHERE shopper_id = '{SHOPPER}' GROUP BY status"
            ),
        ))
        .await
        .unwrap();
    let counts: BTreeMap<String, i64> = rows
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "status").unwrap(),
                row.try_get::<i64>("", "n").unwrap(),
            )
        })
        .collect();
    let count = |status: &str| counts.get(status).copied().unwrap_or(0);
    let rejected = count("rejected") + count("cancelled");
    let received = count("received");
    let confirmed = count("confirmed");
    Sample {
        seconds: 0.0,
        received,
        confirmed,
        scheduled: counts.values().sum::<i64>() - received - confirmed - rejected,
        rejected,
    }
}

/// Each partner's dispatcher: accepts every job offered to it, until `stop`.
async fn dispatch(
    http: reqwest::Client,
    portal: String,
    partners: Vec<Partner>,
    stop: Arc<AtomicBool>,
) {
    let dispatchers = partners.into_iter().map(|partner| {
        let http = http.clone();
        let portal = portal.clone();
        let stop = stop.clone();
        async move {
            while !stop.load(Ordering::Relaxed) {
                let offered: Value = match http
                    .get(format!(
                        "{portal}/v1/portal/jobs?status=offered&per_page=100"
                    ))
                    .bearer_auth(&partner.token)
                    .send()
                    .await
                {
                    Ok(response) if response.status() == 200 => {
                        response.json().await.unwrap_or(json!({}))
                    }
                    _ => json!({}),
                };
                let jobs = offered["items"].as_array().cloned().unwrap_or_default();
                if jobs.is_empty() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                futures_util::stream::iter(jobs)
                    .for_each_concurrent(4, |job| {
                        let http = http.clone();
                        let portal = portal.clone();
                        let token = partner.token.clone();
                        async move {
                            if let Some(id) = job["id"].as_str() {
                                let _ = http
                                    .post(format!("{portal}/v1/portal/jobs/{id}/accept"))
                                    .bearer_auth(&token)
                                    .json(&json!({}))
                                    .send()
                                    .await;
                            }
                        }
                    })
                    .await;
            }
        }
    });
    futures_util::future::join_all(dispatchers).await;
}
