//! Persistence of orders, their timeline, idempotency keys and payouts. Every transition is
//! one transaction: the version-checked update, the timeline row and the outbox event
//! commit together or not at all, and a writer holding a stale view (a lease that expired)
//! finds the version moved and commits nothing.

pub mod entities;

use chrono::{DateTime, NaiveDate, Utc};
use platform::db::Writes;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, SqlErr,
    TransactionTrait,
};
use serde_json::json;
use strum::IntoEnumIterator;
use uuid::Uuid;

use self::entities::{idempotency_keys, order_timeline, orders, payouts};
use crate::domain::{
    Currency, IllegalTransition, Money, OrderStatus, PayoutInstructions, PickupRequest, Step,
};
pub use crate::domain::{NewOrder, OrderRecord};
use crate::published;
pub use platform::pagination::PageRequest;

/// The due work of an order (`due_work` kind): the processor moving it on from a state that
/// needs it (`received`: lock the quote; `inspected`: pay). Scheduled with the state change.
pub const ADVANCE: &str = "order.advance";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("order {0} does not exist")]
    NotFound(Uuid),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("order {0} was changed by another writer at the same time")]
    Concurrent(Uuid),
    #[error("the idempotency key was already used with a different request")]
    KeyReused,
    #[error("stored order {0} cannot be read: {1}")]
    Corrupt(Uuid, String),
    #[error("database: {0}")]
    Database(#[from] DbErr),
}

#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub shopper_id: String,
    pub key: String,
    /// SHA-256 of the request body as parsed, so formatting differences do not matter.
    pub request_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    Created { order_id: Uuid, body: String },
    Replayed { order_id: Uuid, body: String },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TimelineEntry {
    pub seq: i64,
    pub status: String,
    pub event: String,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub shopper_id: Option<String>,
    pub status: Option<OrderStatus>,
    pub pincode: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Only orders not in a final state whose status has not changed since then.
    pub unchanged_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct PayoutRecord {
    pub reference: String,
    pub amount: Money,
    pub method: String,
    pub provider_reference: String,
}

fn money(amount_minor: Option<i64>, currency: &Option<String>) -> Option<Money> {
    let currency = Currency::parse(currency.as_deref()?)?;
    Some(Money {
        amount_minor: amount_minor?,
        currency,
    })
}

impl TryFrom<orders::Model> for OrderRecord {
    type Error = StoreError;

    fn try_from(row: orders::Model) -> Result<Self, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(row.id, what);
        let status = OrderStatus::parse(&row.status)
            .ok_or_else(|| corrupt(format!("unknown status {}", row.status)))?;
        let pickup: PickupRequest = serde_json::from_value(row.pickup.clone())
            .map_err(|error| corrupt(format!("pickup: {error}")))?;
        let payout: PayoutInstructions = serde_json::from_value(row.payout.clone())
            .map_err(|error| corrupt(format!("payout: {error}")))?;
        Ok(Self {
            id: row.id,
            shopper_id: row.shopper_id,
            quote_id: row.quote_id,
            status,
            version: row.version,
            pickup,
            payout,
            variant_id: row.variant_id,
            quoted_price: money(row.quoted_price_minor, &row.currency),
            final_price: money(row.final_price_minor, &row.currency),
            partner_id: row.partner_id,
            reason: row.reason,
            payout_reference: row.payout_reference,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
            status_changed_at: row.status_changed_at,
        })
    }
}

/// The row that stores `order`.
fn row_of(order: &OrderRecord) -> Result<orders::ActiveModel, StoreError> {
    let to_json = |value: serde_json::Result<serde_json::Value>| {
        value.map_err(|error| StoreError::Corrupt(order.id, error.to_string()))
    };
    let currency = order
        .quoted_price
        .or(order.final_price)
        .map(|price| price.currency.as_str().to_owned());
    Ok(orders::ActiveModel {
        id: Set(order.id),
        shopper_id: Set(order.shopper_id.clone()),
        quote_id: Set(order.quote_id),
        status: Set(order.status.as_str().to_owned()),
        version: Set(order.version),
        pickup: Set(to_json(serde_json::to_value(&order.pickup))?),
        pincode: Set(order.pickup.pincode.clone()),
        payout: Set(to_json(serde_json::to_value(&order.payout))?),
        variant_id: Set(order.variant_id),
        quoted_price_minor: Set(order.quoted_price.map(|price| price.amount_minor)),
        final_price_minor: Set(order.final_price.map(|price| price.amount_minor)),
        currency: Set(currency),
        partner_id: Set(order.partner_id),
        reason: Set(order.reason.clone()),
        payout_reference: Set(order.payout_reference.clone()),
        attempts: Set(order.attempts),
        next_attempt_at: Set(order.next_attempt_at),
        last_error: Set(order.last_error.clone()),
        created_at: Set(order.created_at),
        updated_at: Set(order.updated_at),
        status_changed_at: Set(order.status_changed_at),
    })
}

fn money_json(money: &Money) -> serde_json::Value {
    json!({ "amount_minor": money.amount_minor, "currency": money.currency.as_str() })
}

fn detail(step: &Step) -> serde_json::Value {
    match step {
        Step::Confirm {
            variant_id, quoted, ..
        } => json!({ "variant_id": variant_id, "quoted_price": money_json(quoted) }),
        Step::Reject { reason } => json!({ "reason": reason }),
        Step::Cancel { by, reason } => json!({ "by": by, "reason": reason }),
        Step::SchedulePickup { partner_id } => json!({ "partner_id": partner_id }),
        Step::Inspect {
            final_price,
            lower_than_quoted,
        } => json!({
            "final_price": money_json(final_price),
            "lower_than_quoted": lower_than_quoted,
        }),
        Step::Complete {
            paid,
            payout_reference,
        } => json!({ "paid": money_json(paid), "payout_reference": payout_reference }),
        Step::PickUp | Step::AcceptRevisedPrice | Step::RefuseRevisedPrice | Step::Return => {
            json!({})
        }
    }
}

async fn add_to_timeline<C: ConnectionTrait>(
    db: &C,
    order: &OrderRecord,
    event: &str,
    detail: serde_json::Value,
) -> Result<(), DbErr> {
    timeline_row(order, event, detail).exec(db).await?;
    Ok(())
}

fn timeline_row(
    order: &OrderRecord,
    event: &str,
    detail: serde_json::Value,
) -> sea_orm::Insert<order_timeline::ActiveModel> {
    order_timeline::Entity::insert(order_timeline::ActiveModel {
        order_id: Set(order.id),
        seq: Set(order.version),
        status: Set(order.status.as_str().to_owned()),
        event: Set(event.to_owned()),
        detail: Set(detail),
        at: Set(order.updated_at),
    })
}

/// Loads an order inside `db` (usually the transaction that will change it).
pub async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<OrderRecord, StoreError> {
    orders::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound(id))?
        .try_into()
}

/// Moves the order one step inside `db`: checks the rules, writes the new version only if
/// nobody wrote since it was read, records the timeline and publishes the event.
pub async fn apply_step<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    step: &Step,
) -> Result<OrderRecord, StoreError> {
    let current = load(db, id).await?;
    apply_step_to(db, &current, step).await
}

/// [`apply_step`] to an order read before (under its lease): the write still happens only
/// if nobody wrote since that read.
async fn apply_step_to<C: ConnectionTrait>(
    db: &C,
    current: &OrderRecord,
    step: &Step,
) -> Result<OrderRecord, StoreError> {
    let id = current.id;
    let next = current.after(step, Utc::now())?;
    let updated = orders::Entity::update_many()
        .set(row_of(&next)?)
        .filter(orders::Column::Id.eq(id))
        .filter(orders::Column::Version.eq(current.version))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Concurrent(id));
    }
    if let Some(at) = next.next_attempt_at {
        platform::due_work::schedule(db, ADVANCE, &id.to_string(), at).await?;
    }
    let event = published::transition(db, &next, step).await?;
    add_to_timeline(db, &next, event, detail(step)).await?;
    Ok(next)
}

#[derive(Clone)]
pub struct OrderStore {
    db: DatabaseConnection,
}

impl OrderStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Stores a new order with its `OrderPlaced` event, its due work and the response to
    /// replay, all or nothing in one round trip on PostgreSQL ([`Writes`]), unless the key
    /// was used before: then the first response is replayed (same request) or refused
    /// (another request). The key's primary key decides, so a new order costs no lookup
    /// first; two concurrent first uses meet there too, and the second waits for the first
    /// and replays it.
    pub async fn accept(
        &self,
        key: &IdempotencyKey,
        order: NewOrder,
        render: impl FnOnce(&OrderRecord) -> String,
    ) -> Result<Acceptance, StoreError> {
        let record = OrderRecord::received(order, Utc::now());
        let body = render(&record);
        let claim = idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
            shopper_id: Set(key.shopper_id.clone()),
            key: Set(key.key.clone()),
            request_hash: Set(key.request_hash.clone()),
            order_id: Set(record.id),
            response: Set(body.clone()),
            created_at: Set(record.created_at),
        })
        .into_query();
        let (placed, event) = published::placed(&record)?;
        let written = Writes::new()
            .insert(claim)
            .insert(orders::Entity::insert(row_of(&record)?).into_query())
            .insert(platform::due_work::owed(
                ADVANCE,
                &record.id.to_string(),
                record.created_at,
            )?)
            .insert(placed)
            .insert(timeline_row(&record, event, json!({})).into_query())
            .apply(&self.db)
            .await;
        match written {
            Ok(()) => Ok(Acceptance::Created {
                order_id: record.id,
                body,
            }),
            // Only the key can be taken already: the order's id is new.
            Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                let first = self
                    .find_key(key)
                    .await?
                    .ok_or(StoreError::Concurrent(record.id))?;
                replay(first, key)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn find_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<idempotency_keys::Model>, StoreError> {
        Ok(
            idempotency_keys::Entity::find_by_id((key.shopper_id.clone(), key.key.clone()))
                .one(&self.db)
                .await?,
        )
    }

    /// Forgets keys older than `before`; after that a key may be used for a new order.
    pub async fn prune_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = idempotency_keys::Entity::delete_many()
            .filter(idempotency_keys::Column::CreatedAt.lt(before))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }

    /// How many orders of each open status have been in it since before `since`: the same
    /// "stuck" as the admin search's `stuck_for_minutes`, counted.
    pub async fn stuck(&self, since: DateTime<Utc>) -> Result<Vec<(OrderStatus, i64)>, StoreError> {
        let open: Vec<OrderStatus> = OrderStatus::iter()
            .filter(|status| !status.is_final())
            .collect();
        let counts: Vec<(String, i64)> = orders::Entity::find()
            .select_only()
            .column(orders::Column::Status)
            .column_as(orders::Column::Id.count(), "stuck")
            .filter(orders::Column::Status.is_in(open.iter().map(|status| status.as_str())))
            .filter(orders::Column::StatusChangedAt.lt(since))
            .group_by(orders::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(open
            .into_iter()
            .map(|status| {
                let count = counts
                    .iter()
                    .find(|(name, _)| name == status.as_str())
                    .map_or(0, |(_, count)| *count);
                (status, count)
            })
            .collect())
    }

    /// [`apply_step`] in a transaction of its own.
    pub async fn step(&self, id: Uuid, step: &Step) -> Result<OrderRecord, StoreError> {
        let txn = self.db.begin().await?;
        let order = apply_step(&txn, id, step).await?;
        txn.commit().await?;
        Ok(order)
    }

    /// Moves several orders, each as read under its lease, one step each in one
    /// transaction: one commit for a group of the processor's steps. Each step's writes are
    /// made in its own span, so its event carries that order's trace. All or none: if any
    /// order changed since it was read, nothing is written.
    pub async fn step_together(
        &self,
        steps: &[(&OrderRecord, &Step, tracing::Span)],
    ) -> Result<(), StoreError> {
        use tracing::Instrument as _;
        if steps.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        for (order, step, span) in steps {
            apply_step_to(&txn, order, step)
                .instrument(span.clone())
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Records the payout and completes the order, in one transaction.
    pub async fn complete_with_payout(
        &self,
        id: Uuid,
        payout: &PayoutRecord,
    ) -> Result<OrderRecord, StoreError> {
        let txn = self.db.begin().await?;
        payouts::Entity::insert(payouts::ActiveModel {
            order_id: Set(id),
            reference: Set(payout.reference.clone()),
            amount_minor: Set(payout.amount.amount_minor),
            currency: Set(payout.amount.currency.as_str().to_owned()),
            method: Set(payout.method.clone()),
            provider_reference: Set(payout.provider_reference.clone()),
            paid_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(payouts::Column::OrderId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let step = Step::Complete {
            paid: payout.amount,
            payout_reference: payout.reference.clone(),
        };
        let order = apply_step(&txn, id, &step).await?;
        txn.commit().await?;
        Ok(order)
    }

    /// The processor failed to move this order; try again at `retry_at`. Writes nothing if
    /// the order moved meanwhile.
    pub async fn postpone(
        &self,
        order: &OrderRecord,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(500).collect();
        orders::Entity::update_many()
            .col_expr(
                orders::Column::Attempts,
                Expr::col(orders::Column::Attempts).add(1),
            )
            .col_expr(orders::Column::NextAttemptAt, Expr::value(retry_at))
            .col_expr(orders::Column::LastError, Expr::value(error))
            .filter(orders::Column::Id.eq(order.id))
            .filter(orders::Column::Version.eq(order.version))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The orders of `ids` that exist, in one query.
    pub async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<OrderRecord>, StoreError> {
        orders::Entity::find()
            .filter(orders::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    pub async fn get(&self, id: Uuid) -> Result<OrderRecord, StoreError> {
        load(&self.db, id).await
    }

    pub async fn timeline(&self, id: Uuid) -> Result<Vec<TimelineEntry>, StoreError> {
        let rows = order_timeline::Entity::find()
            .filter(order_timeline::Column::OrderId.eq(id))
            .order_by_asc(order_timeline::Column::Seq)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| TimelineEntry {
                seq: row.seq,
                status: row.status,
                event: row.event,
                detail: row.detail,
                at: row.at,
            })
            .collect())
    }

    pub async fn list(
        &self,
        filter: &OrderFilter,
        page: PageRequest,
    ) -> Result<(Vec<OrderRecord>, u64), StoreError> {
        let mut condition = Condition::all();
        if let Some(shopper) = &filter.shopper_id {
            condition = condition.add(orders::Column::ShopperId.eq(shopper.as_str()));
        }
        if let Some(status) = filter.status {
            condition = condition.add(orders::Column::Status.eq(status.as_str()));
        }
        if let Some(pincode) = &filter.pincode {
            condition = condition.add(orders::Column::Pincode.eq(pincode.as_str()));
        }
        if let Some(from) = filter.created_from {
            condition = condition.add(orders::Column::CreatedAt.gte(from));
        }
        if let Some(to) = filter.created_to {
            condition = condition.add(orders::Column::CreatedAt.lt(to));
        }
        if let Some(since) = filter.unchanged_since {
            let open = OrderStatus::iter()
                .filter(|status| !status.is_final())
                .map(OrderStatus::as_str);
            condition = condition
                .add(orders::Column::StatusChangedAt.lt(since))
                .add(orders::Column::Status.is_in(open));
        }
        let query = orders::Entity::find().filter(condition);
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_desc(orders::Column::CreatedAt)
            .order_by_desc(orders::Column::Id)
            .offset(page.offset())
            .limit(page.per_page)
            .all(&self.db)
            .await?;
        let orders = rows
            .into_iter()
            .map(OrderRecord::try_from)
            .collect::<Result<_, _>>()?;
        Ok((orders, total))
    }

    pub async fn payout(&self, id: Uuid) -> Result<Option<PayoutRecord>, StoreError> {
        let row = payouts::Entity::find_by_id(id).one(&self.db).await?;
        Ok(row.and_then(|row| {
            Some(PayoutRecord {
                amount: Money {
                    amount_minor: row.amount_minor,
                    currency: Currency::parse(&row.currency)?,
                },
                reference: row.reference,
                method: row.method,
                provider_reference: row.provider_reference,
            })
        }))
    }
}

fn replay(first: idempotency_keys::Model, key: &IdempotencyKey) -> Result<Acceptance, StoreError> {
    if first.request_hash == key.request_hash {
        Ok(Acceptance::Replayed {
            order_id: first.order_id,
            body: first.response,
        })
    } else {
        Err(StoreError::KeyReused)
    }
}

/// Today's date, where the shopper's pickup slots are counted from.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}
