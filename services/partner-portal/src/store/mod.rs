//! The portal's persistence: partner users, the job read model, the per-order counter of
//! `partner.events`, webhooks and their delivery log. A change to a job, the events and the
//! webhook deliveries it causes are written in one transaction, so none is lost or doubled.

mod accounts;
pub mod entities;

pub use accounts::*;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::domain::webhook::AfterAttempt;
use crate::domain::{JobKind, JobStatus};
use crate::published::{self, Report};

pub use entities::{
    order_streams, portal_job_history, portal_jobs, portal_users, webhook_attempts,
    webhook_deliveries, webhooks,
};

pub use crate::published::PRODUCER;

pub const PENDING: &str = "pending";

/// The due work of a webhook delivery (`due_work` kind): its next attempt.
pub const DELIVER: &str = "portal.deliver_webhook";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} was changed concurrently")]
    Concurrent(Uuid),
    #[error("the email address belongs to another user")]
    EmailTaken,
    /// No such job, or not this partner's.
    #[error("job {0} is not held by this partner")]
    NotHeld(Uuid),
    #[error("cannot {action} a job that is {current}")]
    Illegal {
        current: String,
        action: &'static str,
    },
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Saves a changed job and its history row. The write applies only to the version the job
/// was read at (the backstop behind the per-order lease): otherwise `Concurrent`.
pub async fn save_job<C: ConnectionTrait>(
    db: &C,
    mut job: portal_jobs::Model,
    source: &str,
    note: Option<String>,
) -> Result<portal_jobs::Model, StoreError> {
    let read_at = job.version;
    job.version = read_at + 1;
    job.updated_at = Utc::now();
    let active: portal_jobs::ActiveModel = job.clone().into();
    let updated = portal_jobs::Entity::update_many()
        .set(active.reset_all())
        .filter(portal_jobs::Column::Id.eq(job.id))
        .filter(portal_jobs::Column::Version.eq(read_at))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Concurrent(job.id));
    }
    portal_job_history::ActiveModel {
        id: Set(Uuid::now_v7()),
        job_id: Set(job.id),
        status: Set(job.status.clone()),
        partner_id: Set(job.partner_id),
        source: Set(source.to_owned()),
        note: Set(note),
        at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(job)
}

/// Records what `partner_id` reports about its job `id`, in one transaction: the domain
/// decides the job's next status (or refuses), then the job row, its history row and the
/// `partner.events` outbox row commit together. Run it under the order's lease.
pub async fn report(
    db: &DatabaseConnection,
    id: Uuid,
    partner_id: Uuid,
    report: Report,
) -> Result<portal_jobs::Model, StoreError> {
    let txn = db.begin().await?;
    let mut job = match job(&txn, id).await? {
        Some(job) if job.partner_id == Some(partner_id) => job,
        _ => return Err(StoreError::NotHeld(id)),
    };
    let kind = JobKind::parse(&job.kind).unwrap_or(JobKind::Pickup);
    let current = JobStatus::parse(&job.status).unwrap_or(JobStatus::Unassigned);
    let action = report.action();
    let next = action
        .apply(kind, current)
        .ok_or_else(|| StoreError::Illegal {
            current: job.status.clone(),
            action: action.as_str(),
        })?;
    job.status = next.as_str().to_owned();
    let job = save_job(&txn, job, "partner", report.note()).await?;
    let seq = next_seq(&txn, job.order_id).await?;
    published::reported(&txn, &job, kind, partner_id, report, seq).await?;
    txn.commit().await?;
    Ok(job)
}

pub async fn insert_job<C: ConnectionTrait>(
    db: &C,
    job: portal_jobs::Model,
) -> Result<(), StoreError> {
    let active: portal_jobs::ActiveModel = job.clone().into();
    active.reset_all().insert(db).await?;
    portal_job_history::ActiveModel {
        id: Set(Uuid::now_v7()),
        job_id: Set(job.id),
        status: Set(job.status.clone()),
        partner_id: Set(None),
        source: Set("fulfilment".into()),
        note: Set(Some("created".into())),
        at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn job<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<portal_jobs::Model>, StoreError> {
    Ok(portal_jobs::Entity::find_by_id(id).one(db).await?)
}

pub async fn history<C: ConnectionTrait>(
    db: &C,
    job_id: Uuid,
) -> Result<Vec<portal_job_history::Model>, StoreError> {
    Ok(portal_job_history::Entity::find()
        .filter(portal_job_history::Column::JobId.eq(job_id))
        .order_by_asc(portal_job_history::Column::Id)
        .all(db)
        .await?)
}

/// The next `aggregate_seq` of `partner.events` for `order_id` (compare-and-set, so a
/// writer holding a stale lease fails instead of reusing a number).
pub async fn next_seq<C: ConnectionTrait>(db: &C, order_id: Uuid) -> Result<u64, StoreError> {
    match order_streams::Entity::find_by_id(order_id).one(db).await? {
        None => {
            order_streams::ActiveModel {
                order_id: Set(order_id),
                seq: Set(1),
            }
            .insert(db)
            .await
            .map_err(|_| StoreError::Concurrent(order_id))?;
            Ok(1)
        }
        Some(stream) => {
            let next = stream.seq + 1;
            let updated = order_streams::Entity::update_many()
                .col_expr(order_streams::Column::Seq, Expr::value(next))
                .filter(order_streams::Column::OrderId.eq(order_id))
                .filter(order_streams::Column::Seq.eq(stream.seq))
                .exec(db)
                .await?;
            if updated.rows_affected != 1 {
                return Err(StoreError::Concurrent(order_id));
            }
            Ok(u64::try_from(next).unwrap_or(0))
        }
    }
}

/// Queues `event_type` about `job` for every active webhook of `partner_id`.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    partner_id: Uuid,
    event_type: &str,
    job: &portal_jobs::Model,
) -> Result<usize, StoreError> {
    let hooks = webhooks::Entity::find()
        .filter(webhooks::Column::PartnerId.eq(partner_id))
        .filter(webhooks::Column::Active.eq(true))
        .all(db)
        .await?;
    let now = Utc::now();
    for hook in &hooks {
        let id = Uuid::now_v7();
        let payload = json!({
            "id": id,
            "type": event_type,
            "occurred_at": now,
            "job": {
                "id": job.id,
                "order_id": job.order_id,
                "kind": job.kind,
                "status": job.status,
                "pincode": job.pincode,
                "address": job.address,
                "slot_date": job.slot_date,
                "slot_window": job.slot_window,
            }
        });
        webhook_deliveries::ActiveModel {
            id: Set(id),
            webhook_id: Set(hook.id),
            partner_id: Set(partner_id),
            event_type: Set(event_type.to_owned()),
            payload: Set(payload.to_string()),
            status: Set(PENDING.into()),
            tries: Set(0),
            next_attempt_at: Set(Some(now)),
            last_status_code: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            delivered_at: Set(None),
        }
        .insert(db)
        .await?;
        platform::due_work::schedule(db, DELIVER, &id.to_string(), now).await?;
    }
    Ok(hooks.len())
}

/// A delivery starts over, due now, whatever happened to it before (the log keeps every
/// attempt).
pub async fn send_again(
    db: &DatabaseConnection,
    row: webhook_deliveries::Model,
) -> Result<webhook_deliveries::Model, StoreError> {
    let txn = db.begin().await?;
    let now = Utc::now();
    let mut active: webhook_deliveries::ActiveModel = row.into();
    active.status = Set(PENDING.into());
    active.tries = Set(0);
    active.next_attempt_at = Set(Some(now));
    let row = active.update(&txn).await?;
    platform::due_work::schedule(&txn, DELIVER, &row.id.to_string(), now).await?;
    txn.commit().await?;
    Ok(row)
}

pub async fn page_of<C, E>(
    db: &C,
    query: Select<E>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<E::Model>, u64), StoreError>
where
    C: ConnectionTrait,
    E: EntityTrait,
    E::Model: Sync,
{
    let total = query.clone().count(db).await?;
    let items = query.offset(offset).limit(limit).all(db).await?;
    Ok((items, total))
}

pub async fn attempts<C: ConnectionTrait>(
    db: &C,
    delivery_id: Uuid,
) -> Result<Vec<webhook_attempts::Model>, StoreError> {
    Ok(webhook_attempts::Entity::find()
        .filter(webhook_attempts::Column::DeliveryId.eq(delivery_id))
        .order_by_asc(webhook_attempts::Column::Attempt)
        .all(db)
        .await?)
}

/// A pending delivery whose attempt is owed, with its webhook (`None` once removed or
/// disabled); `None` if the delivery is gone or no longer pending.
pub async fn delivery_to_send(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<(webhook_deliveries::Model, Option<webhooks::Model>)>, StoreError> {
    let Some(delivery) = webhook_deliveries::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    if delivery.status != PENDING || delivery.next_attempt_at.is_none() {
        return Ok(None);
    }
    let hook = webhooks::Entity::find_by_id(delivery.webhook_id)
        .one(db)
        .await?
        .filter(|hook| hook.active);
    Ok(Some((delivery, hook)))
}

/// One attempt at a delivery, as it went.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Logs `attempt` at `delivery` and settles the delivery as `after` says (with `retry_at`
/// for a retry). The settling applies only if nobody asked for a redelivery meanwhile (that
/// starts a new round, with an attempt of its own): returns whether it applied.
pub async fn record_attempt(
    db: &DatabaseConnection,
    delivery: &webhook_deliveries::Model,
    attempt: Attempt,
    after: AfterAttempt,
    retry_at: Option<chrono::DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let number = i32::try_from(attempt_count(db, delivery.id).await?)
        .unwrap_or(i32::MAX)
        .saturating_add(1);
    webhook_attempts::ActiveModel {
        id: Set(Uuid::now_v7()),
        delivery_id: Set(delivery.id),
        attempt: Set(number),
        at: Set(Utc::now()),
        status_code: Set(attempt.status_code),
        error: Set(attempt.error.clone()),
        duration_ms: Set(attempt.duration_ms),
    }
    .insert(db)
    .await?;
    let mut row = webhook_deliveries::ActiveModel {
        tries: Set(delivery.tries.saturating_add(1)),
        last_status_code: Set(attempt.status_code),
        last_error: Set(attempt.error),
        ..Default::default()
    };
    match after {
        AfterAttempt::Delivered => {
            row.status = Set(DELIVERED.into());
            row.next_attempt_at = Set(None);
            row.delivered_at = Set(Some(Utc::now()));
        }
        AfterAttempt::Failed => {
            row.status = Set(FAILED.into());
            row.next_attempt_at = Set(None);
        }
        AfterAttempt::Retry { .. } => row.next_attempt_at = Set(retry_at),
    }
    let mut settle = webhook_deliveries::Entity::update_many()
        .set(row)
        .filter(webhook_deliveries::Column::Id.eq(delivery.id))
        .filter(webhook_deliveries::Column::Status.eq(PENDING))
        .filter(webhook_deliveries::Column::Tries.eq(delivery.tries));
    settle = match delivery.next_attempt_at {
        Some(at) => settle.filter(webhook_deliveries::Column::NextAttemptAt.eq(at)),
        None => settle.filter(webhook_deliveries::Column::NextAttemptAt.is_null()),
    };
    Ok(settle.exec(db).await?.rows_affected == 1)
}

pub async fn attempt_count<C: ConnectionTrait>(
    db: &C,
    delivery_id: Uuid,
) -> Result<u64, StoreError> {
    Ok(webhook_attempts::Entity::find()
        .filter(webhook_attempts::Column::DeliveryId.eq(delivery_id))
        .count(db)
        .await?)
}
