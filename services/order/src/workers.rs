//! Moves accepted orders forward without anyone waiting on it: confirms or rejects each
//! `received` order by locking its quote, and pays each `inspected` order. The work is an
//! `order.advance` row in `due_work`, scheduled in the transaction that put the order in
//! such a state, and run by the platform's due-work runner, so the processor needs neither
//! the broker nor a store of its own, and any number of instances can run it: a row is
//! claimed by one instance at a time, and each order is handled under its per-order lease
//! and re-read under it, so two instances never both act on one state.
//!
//! A failed attempt postpones only that order, with the platform's retry delay (kept on the
//! order, where admins look for stuck orders); others go on.

use std::sync::Arc;

use chrono::Utc;
use platform::due_work::{DueWork, Outcome, Periodic};
use platform::retry::RetryPolicy;
use platform::sequencer::{Sequencer, run_in_sequence};
use platform::service::BoxFuture;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use uuid::Uuid;

use crate::domain::OrderRecord;
use crate::domain::{OrderStatus, Step};
use crate::payout::{PayoutError, PayoutOrder, PayoutProvider, reference_for};
use crate::quote_client::{LockOutcome, QuoteClient};
use crate::store::{ADVANCE, OrderStore, PayoutRecord, StoreError};

#[derive(Clone)]
pub struct Processor {
    pub store: OrderStore,
    pub sequencer: Arc<dyn Sequencer>,
    pub quotes: QuoteClient,
    pub payouts: Arc<dyn PayoutProvider>,
    pub retry: RetryPolicy,
    pub metrics: PayoutMetrics,
}

/// The money side of the business, counted where it happens: a payout is counted once its
/// order's completion committed, a failure each time the provider refuses or is away.
#[derive(Clone)]
pub struct PayoutMetrics {
    paid: IntCounterVec,
    paid_minor: IntCounterVec,
    failed: IntCounterVec,
}

impl PayoutMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            paid: IntCounterVec::new(
                Opts::new("order_payouts_total", "Orders paid out, by payout method"),
                &["method", "currency"],
            )?,
            paid_minor: IntCounterVec::new(
                Opts::new(
                    "order_paid_out_minor_total",
                    "Money paid out to shoppers, in minor units (paise for INR)",
                ),
                &["currency"],
            )?,
            failed: IntCounterVec::new(
                Opts::new(
                    "order_payout_failures_total",
                    "Payout attempts the provider declined or did not answer",
                ),
                &["reason"],
            )?,
        };
        registry.register(Box::new(metrics.paid.clone()))?;
        registry.register(Box::new(metrics.paid_minor.clone()))?;
        registry.register(Box::new(metrics.failed.clone()))?;
        Ok(metrics)
    }
}

/// One step for one order, under its lease: the due-work runner calls it for every
/// `order.advance` row that is due, on any instance.
#[async_trait::async_trait]
impl DueWork for Processor {
    fn kind(&self) -> &'static str {
        ADVANCE
    }

    async fn run(&self, key: &str, _failures: u32) -> Outcome {
        let Ok(id) = key.parse::<Uuid>() else {
            tracing::warn!(
                key,
                "due work for something that is not an order id; dropped"
            );
            return Outcome::Done;
        };
        let outcome =
            run_in_sequence(self.sequencer.as_ref(), key, |_fence| self.advance(id)).await;
        match outcome {
            Ok(Ok(outcome)) => outcome,
            // Another writer moved the order first; the state it wrote scheduled whatever
            // that state needs.
            Ok(Err(StoreError::Concurrent(_) | StoreError::NotFound(_))) => Outcome::Done,
            Ok(Err(error)) => Outcome::Retry(format!("processing the order failed: {error}")),
            Err(error) => Outcome::Retry(format!("the sequencer is unavailable: {error}")),
        }
    }
}

impl Processor {
    async fn advance(&self, id: Uuid) -> Result<Outcome, StoreError> {
        let order = self.store.get(id).await?;
        match order.next_attempt_at {
            None => return Ok(Outcome::Done), // someone else moved it on
            Some(at) if at > Utc::now() => return Ok(Outcome::Again(at)),
            Some(_) => {}
        }
        match order.status {
            OrderStatus::Received => self.confirm(&order).await,
            OrderStatus::Inspected => self.pay(&order).await,
            _ => Ok(Outcome::Done),
        }
    }

    async fn confirm(&self, order: &OrderRecord) -> Result<Outcome, StoreError> {
        match self
            .quotes
            .lock(
                order.quote_id,
                order.id,
                &order.shopper_id,
                order.created_at,
            )
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
            Err(error) => return self.postpone(order, &error.to_string()).await,
        }
        Ok(Outcome::Done)
    }

    async fn pay(&self, order: &OrderRecord) -> Result<Outcome, StoreError> {
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
                let currency = amount.currency.as_str();
                self.metrics
                    .paid
                    .with_label_values(&[record.method.as_str(), currency])
                    .inc();
                self.metrics
                    .paid_minor
                    .with_label_values(&[currency])
                    .inc_by(u64::try_from(amount.amount_minor).unwrap_or(0));
                tracing::info!(order_id = %order.id, "order paid and completed");
                Ok(Outcome::Done)
            }
            Err(error @ (PayoutError::Declined(_) | PayoutError::Unavailable(_))) => {
                let reason = match error {
                    PayoutError::Declined(_) => "declined",
                    PayoutError::Unavailable(_) => "unavailable",
                };
                self.metrics.failed.with_label_values(&[reason]).inc();
                self.postpone(order, &error.to_string()).await
            }
        }
    }

    /// Records the failure on the order (admins see it) and owes the next attempt after
    /// the retry delay.
    async fn postpone(&self, order: &OrderRecord, error: &str) -> Result<Outcome, StoreError> {
        let failures = u32::try_from(order.attempts).unwrap_or(0).saturating_add(1);
        let delay = self.retry.delay(failures);
        let retry_at = Utc::now()
            + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::seconds(30));
        tracing::info!(order_id = %order.id, %error, ?delay, "order postponed");
        self.store.postpone(order, error, retry_at).await?;
        Ok(Outcome::Again(retry_at))
    }
}

/// The periodic round that forgets idempotency keys older than the retention.
pub const PRUNE_IDEMPOTENCY_KEYS: &str = "order.prune_idempotency_keys";
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Forgets, once an hour across all instances, the idempotency keys older than `retention`:
/// after that a key may place a new order.
pub fn idempotency_key_pruner(
    store: OrderStore,
    retention: chrono::Duration,
) -> Periodic<impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static> {
    Periodic::new(PRUNE_IDEMPOTENCY_KEYS, PRUNE_EVERY, move || {
        let store = store.clone();
        let round: BoxFuture<'static, Result<(), String>> = Box::pin(async move {
            match store.prune_idempotency_keys(Utc::now() - retention).await {
                Ok(0) => Ok(()),
                Ok(pruned) => {
                    tracing::info!(pruned, "expired idempotency keys forgotten");
                    Ok(())
                }
                Err(error) => Err(format!("pruning idempotency keys failed: {error}")),
            }
        });
        round
    })
}

/// Counts, on every instance, the open orders unchanged for longer than `stuck_after` by
/// status (`orders_stuck`), for the stuck-orders alert and the back office's search of
/// the same name. Each instance reports it, so a scrape of any one of them is whole.
pub fn stuck_orders_reading(
    store: OrderStore,
    registry: &Registry,
    stuck_after: chrono::Duration,
) -> Result<impl Fn() -> BoxFuture<'static, ()> + Send + 'static, prometheus::Error> {
    let gauge = IntGaugeVec::new(
        Opts::new(
            "orders_stuck",
            "Open orders unchanged for longer than order.stuck_after_minutes, by status",
        ),
        &["status"],
    )?;
    registry.register(Box::new(gauge.clone()))?;
    Ok(move || {
        let store = store.clone();
        let gauge = gauge.clone();
        let read: BoxFuture<'static, ()> = Box::pin(async move {
            match store.stuck(Utc::now() - stuck_after).await {
                Ok(counts) => {
                    for (status, count) in counts {
                        gauge.with_label_values(&[status.as_str()]).set(count);
                    }
                }
                // The last reading stands until the next one works.
                Err(error) => tracing::warn!(%error, "counting stuck orders failed"),
            }
        });
        read
    })
}
