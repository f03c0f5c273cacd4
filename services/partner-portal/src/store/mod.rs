//! The portal's persistence: partner users, the job read model, the per-order counter of
//! `partner.events`, webhooks and their delivery log. A change to a job, the events and the
//! webhook deliveries it causes are written in one transaction, so none is lost or doubled.
//! Every function here takes and returns the records of [`crate::domain`]; the entities
//! (`entities`) and the conversions between rows and records (`records`) stay inside.

mod accounts;
pub mod entities;
mod records;

pub use accounts::*;

use chrono::Utc;
use sea_orm::ActiveValue::Unchanged;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set, TransactionTrait,
};
use uuid::Uuid;

use self::entities::{
    order_streams, portal_job_history, portal_jobs, webhook_attempts, webhook_deliveries, webhooks,
};
use self::records::{delivery_row, job_row, tries_column};
use crate::domain::webhook::AfterAttempt;
use crate::domain::{
    Action, Attempt, Delivery, DeliveryStatus, HistoryEntry, JobStatus, NewAttempt, NewJob,
    PortalJob, ReportRefused, Source, Webhook, WebhookEvent,
};
use crate::published::{self, Report};

pub use crate::published::PRODUCER;

/// The due work of a webhook delivery (`due_work` kind): its next attempt.
pub const DELIVER: &str = "portal.deliver_webhook";

/// A page of records and how many there are in all.
pub type Page<T> = (Vec<T>, u64);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} was changed concurrently")]
    Concurrent(Uuid),
    #[error("the email address belongs to another user")]
    EmailTaken,
    /// No such job, or not this partner's.
    #[error("job {0} is not held by this partner")]
    NotHeld(Uuid),
    #[error("cannot {} a job that is {}", action.as_str(), current.as_str())]
    Illegal { current: JobStatus, action: Action },
    /// A stored row that does not read back as its record (e.g. an unknown status).
    #[error("stored row {0} cannot be read: {1}")]
    Corrupt(Uuid, String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Saves a changed job and its history row. The write applies only to the version the job
/// was read at (the backstop behind the per-order lease): otherwise `Concurrent`.
pub async fn save_job<C: ConnectionTrait>(
    db: &C,
    mut job: PortalJob,
    source: Source,
    note: Option<String>,
) -> Result<PortalJob, StoreError> {
    let read_at = job.version;
    job.version = read_at + 1;
    job.updated_at = Utc::now();
    let updated = portal_jobs::Entity::update_many()
        .set(job_row(&job))
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
        status: Set(job.status.as_str().to_owned()),
        partner_id: Set(job.partner_id),
        source: Set(source.as_str().to_owned()),
        note: Set(note),
        at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(job)
}

/// Records what `partner_id` reports about its job `id`, in one transaction: the domain
/// decides the job's next status (or refuses, [`PortalJob::after_report`]), then the job
/// row, its history row and the `partner.events` outbox row commit together. Run it under
/// the order's lease.
pub async fn report(
    db: &DatabaseConnection,
    id: Uuid,
    partner_id: Uuid,
    report: Report,
) -> Result<PortalJob, StoreError> {
    let txn = db.begin().await?;
    let current = job(&txn, id).await?.ok_or(StoreError::NotHeld(id))?;
    let next =
        current
            .after_report(partner_id, report.action())
            .map_err(|refused| match refused {
                ReportRefused::NotHeld => StoreError::NotHeld(id),
                ReportRefused::Illegal { current, action } => {
                    StoreError::Illegal { current, action }
                }
            })?;
    let job = save_job(&txn, next, Source::Partner, report.note()).await?;
    let seq = next_seq(&txn, job.order_id).await?;
    published::reported(&txn, &job, partner_id, report, seq).await?;
    txn.commit().await?;
    Ok(job)
}

/// Stores a job fulfilment has just created ([`PortalJob::created`]) with its first
/// history row.
pub async fn insert_job<C: ConnectionTrait>(db: &C, job: NewJob) -> Result<PortalJob, StoreError> {
    let job = PortalJob::created(job, Utc::now());
    job_row(&job).insert(db).await?;
    portal_job_history::ActiveModel {
        id: Set(Uuid::now_v7()),
        job_id: Set(job.id),
        status: Set(job.status.as_str().to_owned()),
        partner_id: Set(None),
        source: Set(Source::Fulfilment.as_str().to_owned()),
        note: Set(Some("created".into())),
        at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(job)
}

pub async fn job<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<PortalJob>, StoreError> {
    portal_jobs::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(PortalJob::try_from)
        .transpose()
}

/// A job's history, oldest first.
pub async fn history<C: ConnectionTrait>(
    db: &C,
    job_id: Uuid,
) -> Result<Vec<HistoryEntry>, StoreError> {
    portal_job_history::Entity::find()
        .filter(portal_job_history::Column::JobId.eq(job_id))
        .order_by_asc(portal_job_history::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(HistoryEntry::try_from)
        .collect()
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

/// Queues `event` about `job` for every active webhook of `partner_id`
/// ([`Delivery::queued`]), each owed as due work now.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    partner_id: Uuid,
    event: WebhookEvent,
    job: &PortalJob,
) -> Result<usize, StoreError> {
    let hooks = webhooks::Entity::find()
        .filter(webhooks::Column::PartnerId.eq(partner_id))
        .filter(webhooks::Column::Active.eq(true))
        .all(db)
        .await?;
    let now = Utc::now();
    let queued = hooks.len();
    for hook in hooks {
        let hook = Webhook::try_from(hook)?;
        let delivery = Delivery::queued(Uuid::now_v7(), &hook, event, job, now);
        delivery_row(&delivery).insert(db).await?;
        platform::due_work::schedule(db, DELIVER, &delivery.id.to_string(), now).await?;
    }
    Ok(queued)
}

/// A delivery starts over, due now, whatever happened to it before
/// ([`Delivery::redelivered`]; the log keeps every attempt).
pub async fn send_again(
    db: &DatabaseConnection,
    delivery: Delivery,
) -> Result<Delivery, StoreError> {
    let txn = db.begin().await?;
    let now = Utc::now();
    let next = delivery.redelivered(now);
    let row = webhook_deliveries::ActiveModel {
        id: Unchanged(next.id),
        status: Set(next.status.as_str().to_owned()),
        tries: Set(tries_column(next.tries)),
        next_attempt_at: Set(next.next_attempt_at),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    platform::due_work::schedule(&txn, DELIVER, &row.id.to_string(), now).await?;
    txn.commit().await?;
    Delivery::try_from(row)
}

/// One page of `query`'s rows, read back as records `R`, and how many rows there are.
async fn page_of<C, E, R>(
    db: &C,
    query: Select<E>,
    offset: u64,
    limit: u64,
) -> Result<Page<R>, StoreError>
where
    C: ConnectionTrait,
    E: EntityTrait,
    E::Model: Sync,
    R: TryFrom<E::Model, Error = StoreError>,
{
    let total = query.clone().count(db).await?;
    let items = query
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(R::try_from)
        .collect::<Result<_, _>>()?;
    Ok((items, total))
}

/// Every attempt at a delivery, first first.
pub async fn attempts<C: ConnectionTrait>(
    db: &C,
    delivery_id: Uuid,
) -> Result<Vec<Attempt>, StoreError> {
    webhook_attempts::Entity::find()
        .filter(webhook_attempts::Column::DeliveryId.eq(delivery_id))
        .order_by_asc(webhook_attempts::Column::Attempt)
        .all(db)
        .await?
        .into_iter()
        .map(Attempt::try_from)
        .collect()
}

/// A pending delivery whose attempt is owed, with its webhook (`None` once removed or
/// disabled); `None` if the delivery is gone or no longer owed ([`Delivery::is_owed`]).
pub async fn delivery_to_send(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<(Delivery, Option<Webhook>)>, StoreError> {
    let Some(row) = webhook_deliveries::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let delivery = Delivery::try_from(row)?;
    if !delivery.is_owed() {
        return Ok(None);
    }
    let hook = webhooks::Entity::find_by_id(delivery.webhook_id)
        .one(db)
        .await?
        .map(Webhook::try_from)
        .transpose()?
        .filter(|hook| hook.active);
    Ok(Some((delivery, hook)))
}

/// Logs `attempt` at `delivery` and settles the delivery as `after` says (with `retry_at`
/// for a retry; [`Delivery::after_attempt`]). The settling applies only if nobody asked for
/// a redelivery meanwhile (that starts a new round, with an attempt of its own): returns
/// whether it applied.
pub async fn record_attempt(
    db: &DatabaseConnection,
    delivery: &Delivery,
    attempt: NewAttempt,
    after: AfterAttempt,
    retry_at: Option<chrono::DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let number = i32::try_from(attempt_count(db, delivery.id).await?)
        .unwrap_or(i32::MAX)
        .saturating_add(1);
    let now = Utc::now();
    webhook_attempts::ActiveModel {
        id: Set(Uuid::now_v7()),
        delivery_id: Set(delivery.id),
        attempt: Set(number),
        at: Set(now),
        status_code: Set(attempt.status_code),
        error: Set(attempt.error.clone()),
        duration_ms: Set(attempt.duration_ms),
    }
    .insert(db)
    .await?;
    let settled = delivery.after_attempt(&attempt, after, retry_at, now);
    let row = webhook_deliveries::ActiveModel {
        status: Set(settled.status.as_str().to_owned()),
        tries: Set(tries_column(settled.tries)),
        next_attempt_at: Set(settled.next_attempt_at),
        last_status_code: Set(settled.last_status_code),
        last_error: Set(settled.last_error),
        delivered_at: Set(settled.delivered_at),
        ..Default::default()
    };
    let mut settle = webhook_deliveries::Entity::update_many()
        .set(row)
        .filter(webhook_deliveries::Column::Id.eq(delivery.id))
        .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::Column::Tries.eq(tries_column(delivery.tries)));
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
