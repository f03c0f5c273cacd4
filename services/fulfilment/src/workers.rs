//! Fulfilment's background work: re-pricing inspected devices, and offering again jobs
//! whose offer lapsed or that found no partner. Each change runs under the order's lease,
//! like the consumer, and re-reads the job under it, so instances never step on each other.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use platform::sequencer::{Sequencer, run_in_sequence};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::Deserialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::JobStatus;
use crate::quote_client::{QuoteClient, RequoteError};
use crate::store::{self, StoreError};

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
    /// Exponential, capped, with ±20 % jitter so many waiting jobs do not retry in step.
    pub fn delay(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.clamp(0, 20)).unwrap_or(0);
        let base = self
            .retry_initial_ms
            .saturating_mul(2u64.saturating_pow(exponent))
            .min(self.retry_max_ms);
        let jitter = (Uuid::new_v4().as_u128() % 41) as u64; // 0..=40
        Duration::from_millis(base.saturating_mul(80 + jitter) / 100)
    }
}

const REQUOTE_POLL: Duration = Duration::from_millis(250);

pub struct Requoter {
    pub db: DatabaseConnection,
    pub sequencer: Arc<dyn Sequencer>,
    pub quotes: QuoteClient,
    pub retry: RetrySettings,
}

impl Requoter {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match store::due_requotes(&self.db, Utc::now()).await {
                Ok(due) => {
                    for job in due {
                        if stop.is_cancelled() {
                            return;
                        }
                        let key = job.order_id.to_string();
                        let outcome = run_in_sequence(self.sequencer.as_ref(), &key, |_| {
                            self.requote(job.id)
                        })
                        .await;
                        match outcome {
                            Ok(Err(error)) => tracing::warn!(%error, "re-pricing a job failed"),
                            Err(error) => tracing::warn!(%error, "the sequencer is unavailable"),
                            Ok(Ok(())) => {}
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "looking for inspections to re-price failed"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(REQUOTE_POLL) => {}
            }
        }
    }

    async fn requote(&self, job_id: Uuid) -> Result<(), StoreError> {
        let Some(job) = store::job(&self.db, job_id).await? else {
            return Ok(());
        };
        let due = job.requote_due_at.is_some_and(|at| at <= Utc::now());
        if job.status != JobStatus::InspectionReported.as_str() || !due {
            return Ok(());
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
        match outcome {
            Ok(price) => {
                let mut job = job;
                job.requote_due_at = None;
                job.last_error = None;
                let notes = job.notes.clone().unwrap_or_default();
                let job =
                    store::progress(&txn, job, JobStatus::Completed, Some("re-priced".into()))
                        .await?;
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
            }
            Err(error @ RequoteError::Unavailable(_)) => {
                let next = Utc::now()
                    + chrono::Duration::from_std(self.retry.delay(job.requote_attempts))
                        .unwrap_or_else(|_| chrono::Duration::seconds(60));
                store::requote_failed(&txn, job, error.to_string(), Some(next)).await?;
            }
            Err(error @ RequoteError::Refused(_)) => {
                tracing::error!(%job_id, %error, "quote refused to re-price; an admin must look");
                store::requote_failed(&txn, job, error.to_string(), None).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }
}

pub struct Reassigner {
    pub db: DatabaseConnection,
    pub sequencer: Arc<dyn Sequencer>,
    pub acceptance_window: Duration,
    pub interval: Duration,
    /// Rung when partners change: unassigned jobs may now find one.
    pub wake: Arc<Notify>,
}

impl Reassigner {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(error) = self.sweep().await {
                tracing::warn!(%error, "reassigning jobs failed");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    async fn sweep(&self) -> Result<(), StoreError> {
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
