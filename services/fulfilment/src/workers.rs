//! Fulfilment's background work: re-pricing inspected devices, and offering again jobs
//! whose offer lapsed or that found no partner, both on the platform's due-work runner.
//! Each change runs under the order's lease, like the consumer, and re-reads the job under
//! it, so instances never step on each other.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use platform::due_work::{DueWork, Outcome, Periodic, Waker, owe_round_now};
use platform::retry::RetryPolicy;
use platform::sequencer::{Sequencer, run_in_sequence};
use platform::service::BoxFuture;
use prometheus::{IntGaugeVec, Opts, Registry};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::Deserialize;
use uuid::Uuid;

use crate::quote_client::{QuoteClient, RequoteError};
use crate::store::{self, REQUOTE, StoreError};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RetrySettings {
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            retry_initial_ms: 1_000,
            retry_max_ms: 60_000,
        }
    }
}

impl RetrySettings {
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy::new(
            Duration::from_millis(self.retry_initial_ms),
            Duration::from_millis(self.retry_max_ms),
        )
    }
}

/// Asks quote for the final price of an inspected device: the due work of each job whose
/// inspection was reported (or whose re-pricing an admin asked for again), run under the
/// order's lease and re-read under it.
pub struct Requoter {
    pub db: DatabaseConnection,
    pub sequencer: Arc<dyn Sequencer>,
    pub quotes: QuoteClient,
    pub retry: RetryPolicy,
}

#[async_trait::async_trait]
impl DueWork for Requoter {
    fn kind(&self) -> &'static str {
        REQUOTE
    }

    async fn run(&self, key: &str, _failures: u32) -> Outcome {
        let Ok(job_id) = key.parse::<Uuid>() else {
            tracing::warn!(
                key,
                "re-pricing owed for something that is not a job id; dropped"
            );
            return Outcome::Done;
        };
        let order_id = match store::job(&self.db, job_id).await {
            Ok(Some(job)) => job.order_id,
            Ok(None) => return Outcome::Done,
            Err(error) => return Outcome::Retry(format!("reading the job failed: {error}")),
        };
        let outcome = run_in_sequence(self.sequencer.as_ref(), &order_id.to_string(), |_| {
            self.requote(job_id)
        })
        .await;
        match outcome {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => Outcome::Retry(format!("re-pricing the job failed: {error}")),
            Err(error) => Outcome::Retry(format!("the sequencer is unavailable: {error}")),
        }
    }
}

impl Requoter {
    async fn requote(&self, job_id: Uuid) -> Result<Outcome, StoreError> {
        let Some(job) = store::job(&self.db, job_id).await? else {
            return Ok(Outcome::Done);
        };
        let Some(due) = job.requote_due() else {
            return Ok(Outcome::Done);
        };
        if due > Utc::now() {
            return Ok(Outcome::Again(due));
        }
        let Some(trade_in) = store::trade_in(&self.db, job.order_id).await? else {
            return Err(StoreError::Corrupt(format!("job {job_id} has no trade-in")));
        };
        let answers = job
            .answers
            .clone()
            .unwrap_or(serde_json::Value::Array(vec![]));
        let outcome = self.quotes.requote(trade_in.quote_id, &answers).await;
        let txn = self.db.begin().await?;
        let next = match outcome {
            Ok(price) => {
                let notes = job.notes.clone().unwrap_or_default();
                let job = store::repriced(&txn, job).await?;
                let event = events::fulfilment::InspectionCompleted {
                    order_id: job.order_id.to_string(),
                    job_id: job.id.to_string(),
                    partner_id: job.partner_id.map(|id| id.to_string()).unwrap_or_default(),
                    final_price: Some(events::fulfilment::Money {
                        amount_minor: price.amount_minor,
                        currency: price.currency,
                    }),
                    notes,
                };
                store::emit(&txn, job.order_id, &event).await?;
                Outcome::Done
            }
            Err(error @ RequoteError::Unavailable(_)) => {
                let failures = u32::try_from(job.requote.attempts)
                    .unwrap_or(0)
                    .saturating_add(1);
                let next = Utc::now()
                    + chrono::Duration::from_std(self.retry.delay(failures))
                        .unwrap_or_else(|_| chrono::Duration::seconds(60));
                store::requote_failed(&txn, job, error.to_string(), Some(next)).await?;
                Outcome::Again(next)
            }
            Err(error @ RequoteError::Refused(_)) => {
                tracing::error!(%job_id, %error, "quote refused to re-price; an admin must look");
                store::requote_failed(&txn, job, error.to_string(), None).await?;
                Outcome::Done
            }
        };
        txn.commit().await?;
        Ok(next)
    }
}

/// The periodic task (`due_work` kind) that offers again jobs whose offer lapsed or that
/// found no partner.
pub const REASSIGN: &str = "fulfilment.reassign";

pub struct Reassigner {
    pub db: DatabaseConnection,
    pub sequencer: Arc<dyn Sequencer>,
    pub acceptance_window: Duration,
}

/// Tells the reassigner that partners changed: unassigned jobs may now find one, so its
/// next round is owed now rather than at its time.
#[derive(Clone)]
pub struct PartnersChanged {
    pub db: DatabaseConnection,
    pub waker: Waker,
}

impl PartnersChanged {
    pub async fn announce(&self) {
        match owe_round_now(&self.db, REASSIGN).await {
            Ok(()) => self.waker.wake(),
            // The round comes at its time anyway.
            Err(error) => tracing::warn!(%error, "could not owe a reassignment round now"),
        }
    }
}

impl Reassigner {
    /// The reassigner as a periodic task: a round every `every`, once across all instances.
    pub fn every(
        self,
        every: Duration,
    ) -> Periodic<impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static> {
        let reassigner = Arc::new(self);
        Periodic::new(REASSIGN, every, move || {
            let reassigner = reassigner.clone();
            let round: BoxFuture<'static, Result<(), String>> = Box::pin(async move {
                reassigner
                    .sweep()
                    .await
                    .map_err(|error| format!("reassigning jobs failed: {error}"))
            });
            round
        })
    }

    /// One round: every lapsed offer and unassigned job, each under its order's lease.
    pub async fn sweep(&self) -> Result<(), StoreError> {
        let window = chrono::Duration::from_std(self.acceptance_window)
            .unwrap_or_else(|_| chrono::Duration::minutes(30));
        let (lapsed, unassigned) = store::jobs_to_reassign(&self.db, Utc::now() - window).await?;
        for (job, lapsed) in lapsed
            .into_iter()
            .map(|job| (job, true))
            .chain(unassigned.into_iter().map(|job| (job, false)))
        {
            let key = job.order_id.to_string();
            let outcome = run_in_sequence(self.sequencer.as_ref(), &key, |_| async {
                let txn = self.db.begin().await?;
                let Some(current) = store::job(&txn, job.id).await? else {
                    return Ok::<(), StoreError>(());
                };
                if current.status != job.status || current.partner_id != job.partner_id {
                    return Ok(());
                }
                if lapsed {
                    store::reassign(&txn, current, "the offer lapsed").await?;
                } else {
                    store::assign(&txn, current, "offered after partners changed", true).await?;
                }
                txn.commit().await?;
                Ok(())
            })
            .await;
            // One job failing (a concurrent write, say) does not hold up the others.
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(job_id = %job.id, %error, "reassigning a job failed")
                }
                Err(error) => tracing::warn!(%error, "the sequencer is unavailable"),
            }
        }
        Ok(())
    }
}

/// Counts, on every instance, the open jobs by partner, kind and status
/// (`fulfilment_open_jobs`; `partner=""` is unassigned) and names the partners
/// (`fulfilment_partner_info`, 1 per partner, to join on `partner`). Each instance reports
/// the whole table, so any one scrape is complete.
pub fn partner_jobs_reading(
    db: DatabaseConnection,
    registry: &Registry,
) -> Result<impl Fn() -> BoxFuture<'static, ()> + Send + 'static, prometheus::Error> {
    let open = IntGaugeVec::new(
        Opts::new(
            "fulfilment_open_jobs",
            "Jobs not completed or cancelled, by partner (empty: unassigned), kind and status",
        ),
        &["partner", "kind", "status"],
    )?;
    let info = IntGaugeVec::new(
        Opts::new(
            "fulfilment_partner_info",
            "1 for every partner: its name, kind and whether it is active",
        ),
        &["partner", "name", "kind", "active"],
    )?;
    registry.register(Box::new(open.clone()))?;
    registry.register(Box::new(info.clone()))?;
    Ok(move || {
        let db = db.clone();
        let open = open.clone();
        let info = info.clone();
        let read: BoxFuture<'static, ()> = Box::pin(async move {
            match (store::open_jobs(&db).await, store::partner_names(&db).await) {
                (Ok(jobs), Ok(partners)) => {
                    // Set from scratch: a partner whose last open job closed reads 0 by
                    // disappearing, and a renamed one is not listed twice.
                    open.reset();
                    for (partner, kind, status, count) in jobs {
                        let partner = partner.map(|id| id.to_string()).unwrap_or_default();
                        open.with_label_values(&[partner.as_str(), &kind, &status])
                            .set(count);
                    }
                    info.reset();
                    for (id, name, kind, active) in partners {
                        let active = if active { "true" } else { "false" };
                        info.with_label_values(&[id.to_string().as_str(), &name, &kind, active])
                            .set(1);
                    }
                }
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%error, "counting open jobs by partner failed");
                }
            }
        });
        read
    })
}
