//! Moves accepted orders forward without anyone waiting on it: confirms or rejects each
//! `received` order by locking its quote, and pays each `inspected` order. The order table
//! is the work queue (`next_attempt_at`), so the processor needs neither the broker nor a
//! second store, and any number of instances can run it: each order is handled under its
//! per-order lease, and re-read under it, so two instances never both act on one state.
//!
//! A failed attempt postpones only that order, with exponential backoff; others go on.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use platform::sequencer::{Sequencer, run_in_sequence};
use serde::Deserialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{OrderStatus, Step};
use crate::payout::{PayoutError, PayoutOrder, PayoutProvider, reference_for};
use crate::quote_client::{LockOutcome, QuoteClient};
use crate::store::{OrderRecord, OrderStore, PayoutRecord, StoreError};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ProcessorSettings {
    /// How often due orders are looked for when nothing wakes the processor.
    pub poll_interval_ms: u64,
    /// Orders picked per round.
    pub batch_size: u64,
    /// Orders worked on at once. At most half of `database.max_connections`: accepting
    /// must always find a free connection, whatever the processor is doing.
    pub concurrency: usize,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for ProcessorSettings {
    fn default() -> Self {
        Self {
            poll_interval_ms: 250,
            batch_size: 64,
            concurrency: 4,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
        }
    }
}

impl ProcessorSettings {
    /// Exponential in the attempts made, capped, with ±20 % jitter so a recovered quote
    /// service is not hit by every waiting order in the same instant.
    pub fn retry_delay(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
        let base = self
            .retry_initial_ms
            .saturating_mul(1u64 << exponent)
            .min(self.retry_max_ms);
        let jitter = 0.8 + 0.4 * rand_unit();
        Duration::from_millis((base as f64 * jitter) as u64)
    }
}

/// A cheap uniform number in [0, 1) without a dependency: the low bits of a v4 UUID.
fn rand_unit() -> f64 {
    (Uuid::new_v4().as_u128() & 0xFFFF) as f64 / 65_536.0
}

#[derive(Clone)]
pub struct Processor {
    pub store: OrderStore,
    pub sequencer: Arc<dyn Sequencer>,
    pub quotes: QuoteClient,
    pub payouts: Arc<dyn PayoutProvider>,
    pub settings: ProcessorSettings,
    /// Poked after an accept so a new order does not wait for the next poll.
    pub wake: Arc<Notify>,
}

impl Processor {
    pub async fn run(self, stop: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        loop {
            let due = match self.store.due(Utc::now(), self.settings.batch_size).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "looking for due orders failed");
                    Vec::new()
                }
            };
            let full = due.len() as u64 == self.settings.batch_size;
            futures_util::stream::iter(due)
                .for_each_concurrent(self.settings.concurrency, |id| self.process(id))
                .await;
            if stop.is_cancelled() {
                break;
            }
            if full {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// One step for one order, under its lease.
    pub async fn process(&self, id: Uuid) {
        let outcome = run_in_sequence(self.sequencer.as_ref(), &id.to_string(), |_fence| {
            self.advance(id)
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            // Another writer moved the order first; whatever is left is picked up again.
            Ok(Err(StoreError::Concurrent(_))) => {}
            Ok(Err(error)) => tracing::warn!(%error, order_id = %id, "processing an order failed"),
            Err(error) => tracing::warn!(%error, order_id = %id, "the sequencer is unavailable"),
        }
    }

    async fn advance(&self, id: Uuid) -> Result<(), StoreError> {
        let order = self.store.get(id).await?;
        let now = Utc::now();
        if order.next_attempt_at.is_none_or(|at| at > now) {
            return Ok(()); // someone else handled it, or it is not due yet
        }
        match order.status {
            OrderStatus::Received => self.confirm(&order).await,
            OrderStatus::Inspected => self.pay(&order).await,
            _ => Ok(()),
        }
    }

    async fn confirm(&self, order: &OrderRecord) -> Result<(), StoreError> {
        match self
            .quotes
            .lock(order.quote_id, order.id, &order.shopper_id)
            .await
        {
            Ok(LockOutcome::Locked { variant_id, price }) => {
                let step = Step::Confirm {
                    variant_id,
                    quoted: price,
                };
                self.store.step(order.id, &step).await?;
                tracing::info!(order_id = %order.id, "order confirmed");
            }
            Ok(LockOutcome::Refused { code }) => {
                self.store
                    .step(order.id, &Step::Reject { reason: code })
                    .await?;
                tracing::info!(order_id = %order.id, "order rejected");
            }
            Err(error) => self.postpone(order, &error.to_string()).await?,
        }
        Ok(())
    }

    async fn pay(&self, order: &OrderRecord) -> Result<(), StoreError> {
        let Some(amount) = order.final_price.or(order.quoted_price) else {
            return self.postpone(order, "no price to pay").await;
        };
        let payout = PayoutOrder {
            reference: reference_for(order.id),
            amount,
            instructions: order.payout.clone(),
        };
        match self.payouts.pay(&payout).await {
            Ok(receipt) => {
                let record = PayoutRecord {
                    reference: payout.reference,
                    amount,
                    method: order.payout.method.as_str().to_owned(),
                    provider_reference: receipt.provider_reference,
                };
                self.store.complete_with_payout(order.id, &record).await?;
                tracing::info!(order_id = %order.id, "order paid and completed");
                Ok(())
            }
            Err(error @ (PayoutError::Declined(_) | PayoutError::Unavailable(_))) => {
                self.postpone(order, &error.to_string()).await
            }
        }
    }

    async fn postpone(&self, order: &OrderRecord, error: &str) -> Result<(), StoreError> {
        let delay = self.settings.retry_delay(order.attempts);
        let retry_at = Utc::now()
            + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::seconds(30));
        tracing::info!(order_id = %order.id, %error, ?delay, "order postponed");
        self.store.postpone(order, error, retry_at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_and_stop_at_the_cap() {
        let settings = ProcessorSettings {
            retry_initial_ms: 100,
            retry_max_ms: 1_000,
            ..Default::default()
        };
        let first = settings.retry_delay(0).as_millis();
        assert!((80..=120).contains(&first), "{first}");
        let capped = settings.retry_delay(30).as_millis();
        assert!((800..=1_200).contains(&capped), "{capped}");
    }
}
