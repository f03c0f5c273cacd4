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
//!
//! The runner hands the processor its orders in groups (`order.processor.together`): the
//! group's leases are taken at once, its orders read in one query, their quotes locked
//! concurrently and the confirmations written in one transaction. Per order that saves
//! most of the round trips and the commit, which is what the processor's cost was; and
//! when accepting is busy and background work gives way, it gives way once per group.

use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt as _;
use platform::due_work::{DueWork, Outcome, Owed, Periodic};
use platform::retry::RetryPolicy;
use platform::sequencer::Sequencer;
use platform::service::BoxFuture;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use tracing::Instrument as _;
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

    /// One order: a group of one.
    async fn run(&self, key: &str, failures: u32) -> Outcome {
        let owed = [Owed {
            key: key.to_owned(),
            failures,
            span: tracing::Span::current(),
        }];
        self.run_together(&owed)
            .await
            .pop()
            .unwrap_or_else(|| Outcome::Retry("the order was not handled".into()))
    }

    fn done_together(&self) -> bool {
        true
    }

    /// A group of orders under their leases, taken at once: see the module's docs.
    async fn run_together(&self, owed: &[Owed]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = owed.iter().map(|_| None).collect();
        let leases =
            futures_util::future::join_all(owed.iter().map(|row| self.sequencer.acquire(&row.key)))
                .await;
        let mut held = Vec::new();
        let mut leased = Vec::new();
        for (index, (row, lease)) in owed.iter().zip(leases).enumerate() {
            match (row.key.parse::<Uuid>(), lease) {
                (Ok(id), Ok(lease)) => {
                    held.push((index, id));
                    leased.push(lease);
                }
                (Ok(_), Err(error)) => {
                    outcomes[index] = Some(Outcome::Retry(format!(
                        "the sequencer is unavailable: {error}"
                    )));
                }
                (Err(_), lease) => {
                    tracing::warn!(
                        key = row.key,
                        "due work for something that is not an order id; dropped"
                    );
                    outcomes[index] = Some(Outcome::Done);
                    if let Ok(lease) = lease {
                        leased.push(lease);
                    }
                }
            }
        }
        for (index, outcome) in self.advance_together(owed, &held).await {
            outcomes[index] = Some(outcome);
        }
        futures_util::future::join_all(leased.into_iter().map(|lease| lease.release())).await;
        outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| Outcome::Retry("the order was not handled".into()))
            })
            .collect()
    }
}

/// What a step's result means for its due work.
fn outcome_of(result: Result<Outcome, StoreError>) -> Outcome {
    match result {
        Ok(outcome) => outcome,
        // Another writer moved the order first; the state it wrote scheduled whatever
        // that state needs.
        Err(StoreError::Concurrent(_) | StoreError::NotFound(_)) => Outcome::Done,
        Err(error) => Outcome::Retry(format!("processing the order failed: {error}")),
    }
}

/// Quote lock calls one group makes at once: a group is up to `order.processor.together`
/// orders, and several groups run at once; quote's own in-flight mark must not see a wave.
const LOCKS_AT_ONCE: usize = 8;

impl Processor {
    /// The orders of `held` (index into `owed`, order id), whose leases are held: read in
    /// one query, confirmed or rejected with one transaction for the group.
    async fn advance_together(
        &self,
        owed: &[Owed],
        held: &[(usize, Uuid)],
    ) -> Vec<(usize, Outcome)> {
        let ids: Vec<Uuid> = held.iter().map(|(_, id)| *id).collect();
        let orders = match self.store.get_many(&ids).await {
            Ok(orders) => orders,
            Err(error) => {
                let reason = format!("reading the orders failed: {error}");
                return held
                    .iter()
                    .map(|(index, _)| (*index, Outcome::Retry(reason.clone())))
                    .collect();
            }
        };
        let now = Utc::now();
        let mut outcomes = Vec::with_capacity(held.len());
        let mut to_confirm = Vec::new();
        for (index, id) in held {
            let Some(order) = orders.iter().find(|order| order.id == *id) else {
                outcomes.push((*index, Outcome::Done)); // gone: nothing is owed
                continue;
            };
            match order.next_attempt_at {
                None => outcomes.push((*index, Outcome::Done)), // someone else moved it on
                Some(at) if at > now => outcomes.push((*index, Outcome::Again(at))),
                Some(_) => match order.status {
                    OrderStatus::Received => to_confirm.push((*index, order)),
                    OrderStatus::Inspected => {
                        let paid = self.pay(order).instrument(owed[*index].span.clone()).await;
                        outcomes.push((*index, outcome_of(paid)));
                    }
                    _ => outcomes.push((*index, Outcome::Done)),
                },
            }
        }
        let mut calls = Vec::with_capacity(to_confirm.len());
        for (index, order) in &to_confirm {
            calls.push(
                self.quotes
                    .lock(
                        order.quote_id,
                        order.id,
                        &order.shopper_id,
                        order.created_at,
                    )
                    .instrument(owed[*index].span.clone()),
            );
        }
        let locks: Vec<_> = futures_util::stream::iter(calls)
            .buffered(LOCKS_AT_ONCE)
            .collect()
            .await;
        let mut steps = Vec::with_capacity(to_confirm.len());
        for ((index, order), lock) in to_confirm.into_iter().zip(locks) {
            let step = match lock {
                Ok(LockOutcome::Locked { variant_id, price }) => Step::Confirm {
                    variant_id,
                    quoted: price,
                },
                Ok(LockOutcome::Refused { code }) => Step::Reject { reason: code },
                Err(error) => {
                    let postponed = self
                        .postpone(order, &error.to_string())
                        .instrument(owed[index].span.clone())
                        .await;
                    outcomes.push((index, outcome_of(postponed)));
                    continue;
                }
            };
            steps.push((index, order, step));
        }
        let together: Vec<_> = steps
            .iter()
            .map(|(index, order, step)| (*order, step, owed[*index].span.clone()))
            .collect();
        match self.store.step_together(&together).await {
            Ok(()) => {
                for (index, order, step) in &steps {
                    owed[*index].span.in_scope(|| log_step(order.id, step));
                    outcomes.push((*index, Outcome::Done));
                }
            }
            // One order of the group could not move (changed since it was read, a
            // refusal): nothing was written; each is written on its own, from a new read.
            Err(error) => {
                tracing::info!(%error, orders = steps.len(), "a group's steps could not be written together; writing each alone");
                for (index, order, step) in &steps {
                    let span = owed[*index].span.clone();
                    let written = self
                        .store
                        .step(order.id, step)
                        .instrument(span.clone())
                        .await;
                    if written.is_ok() {
                        span.in_scope(|| log_step(order.id, step));
                    }
                    outcomes.push((*index, outcome_of(written.map(|_| Outcome::Done))));
                }
            }
        }
        outcomes
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

fn log_step(order_id: Uuid, step: &Step) {
    match step {
        Step::Confirm { .. } => tracing::info!(%order_id, "order confirmed"),
        Step::Reject { .. } => tracing::info!(%order_id, "order rejected"),
        _ => {}
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
