//! Fulfilment's persistence. Every change to an order's jobs runs in one transaction that
//! also writes its `fulfilment.events` rows; `trade_ins.seq` numbers them per order and is
//! bumped with a compare-and-set, so a writer holding a stale lease cannot commit.
//!
//! Only records ([`Job`], [`JobHistoryEntry`], [`Partner`], [`TradeIn`]) go in and out: rows
//! are turned into them here, and a row that cannot be read (an unknown kind or status,
//! say) is a [`StoreError::Corrupt`].

pub mod entities;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use events::fulfilment as proto;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use self::entities::{job_history, jobs, partners, trade_ins};
use crate::domain::{
    Candidate, Ineligible, JobKind, JobStatus, PartnerKind, Requote, choose_partner, ineligibility,
};
pub use crate::domain::{Job, JobHistoryEntry, NewJob, NewPartner, Partner, TradeIn};

/// The `producer` in every envelope fulfilment writes.
pub const PRODUCER: &str = "fulfilment";

/// The due work of an inspected job (`due_work` kind): asking quote for the final price.
pub const REQUOTE: &str = "fulfilment.requote";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} was changed concurrently")]
    Concurrent(Uuid),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// How a day is stored (`jobs.day`): YYYY-MM-DD.
fn day_column(day: NaiveDate) -> String {
    day.to_string()
}

fn ids_column(ids: &[Uuid]) -> String {
    let mut unique: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    unique.sort_unstable();
    unique.dedup();
    unique.join(",")
}

fn pincodes_column(pincodes: &[String]) -> String {
    pincodes.join(",")
}

impl TryFrom<jobs::Model> for Job {
    type Error = StoreError;

    fn try_from(row: jobs::Model) -> Result<Self, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(format!("job {}: {what}", row.id));
        let kind =
            JobKind::parse(&row.kind).ok_or_else(|| corrupt(format!("job kind {}", row.kind)))?;
        let status = JobStatus::parse(&row.status)
            .ok_or_else(|| corrupt(format!("job status {}", row.status)))?;
        let day: NaiveDate = row
            .day
            .parse()
            .map_err(|_| corrupt(format!("day {}", row.day)))?;
        let excluded = row
            .excluded
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| Uuid::parse_str(id).map_err(|_| corrupt(format!("excluded partner {id}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id: row.id,
            order_id: row.order_id,
            kind,
            status,
            partner_id: row.partner_id,
            day,
            pincode: row.pincode,
            address: row.address,
            slot_date: row.slot_date,
            slot_window: row.slot_window,
            offered_at: row.offered_at,
            excluded,
            answers: row.answers,
            notes: row.notes,
            requote: Requote {
                due_at: row.requote_due_at,
                attempts: row.requote_attempts,
                failed: row.requote_failed,
                last_error: row.last_error,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// The row that stores `job`.
fn job_row(job: &Job) -> jobs::ActiveModel {
    jobs::ActiveModel {
        id: Set(job.id),
        order_id: Set(job.order_id),
        kind: Set(job.kind.as_str().to_owned()),
        status: Set(job.status.as_str().to_owned()),
        partner_id: Set(job.partner_id),
        day: Set(day_column(job.day)),
        pincode: Set(job.pincode.clone()),
        address: Set(job.address.clone()),
        slot_date: Set(job.slot_date.clone()),
        slot_window: Set(job.slot_window.clone()),
        offered_at: Set(job.offered_at),
        excluded: Set(ids_column(&job.excluded)),
        answers: Set(job.answers.clone()),
        notes: Set(job.notes.clone()),
        requote_due_at: Set(job.requote.due_at),
        requote_attempts: Set(job.requote.attempts),
        last_error: Set(job.requote.last_error.clone()),
        created_at: Set(job.created_at),
        updated_at: Set(job.updated_at),
        version: Set(job.version),
        requote_failed: Set(job.requote.failed),
    }
}

impl TryFrom<job_history::Model> for JobHistoryEntry {
    type Error = StoreError;

    fn try_from(row: job_history::Model) -> Result<Self, StoreError> {
        let status = JobStatus::parse(&row.status).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "history of job {}: status {}",
                row.job_id, row.status
            ))
        })?;
        Ok(Self {
            job_id: row.job_id,
            status,
            partner_id: row.partner_id,
            reason: row.reason,
            at: row.at,
        })
    }
}

impl TryFrom<partners::Model> for Partner {
    type Error = StoreError;

    fn try_from(row: partners::Model) -> Result<Self, StoreError> {
        let kind = PartnerKind::parse(&row.kind).ok_or_else(|| {
            StoreError::Corrupt(format!("partner {}: partner kind {}", row.id, row.kind))
        })?;
        let pincodes = row
            .pincodes
            .split(',')
            .filter(|pincode| !pincode.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Self {
            id: row.id,
            name: row.name,
            kind,
            pincodes,
            daily_capacity: row.daily_capacity,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The row that stores `partner`.
fn partner_row(partner: &Partner) -> partners::ActiveModel {
    partners::ActiveModel {
        id: Set(partner.id),
        name: Set(partner.name.clone()),
        kind: Set(partner.kind.as_str().to_owned()),
        pincodes: Set(pincodes_column(&partner.pincodes)),
        daily_capacity: Set(partner.daily_capacity),
        active: Set(partner.active),
        created_at: Set(partner.created_at),
        updated_at: Set(partner.updated_at),
    }
}

impl From<trade_ins::Model> for TradeIn {
    fn from(row: trade_ins::Model) -> Self {
        Self {
            order_id: row.order_id,
            quote_id: row.quote_id,
            variant_id: row.variant_id,
            pincode: row.pincode,
            address: row.address,
            slot_date: row.slot_date,
            slot_window: row.slot_window,
            quoted_amount_minor: row.quoted_amount_minor,
            quoted_currency: row.quoted_currency,
        }
    }
}

fn jobs_of(rows: Vec<jobs::Model>) -> Result<Vec<Job>, StoreError> {
    rows.into_iter().map(Job::try_from).collect()
}

/// Writes `event` for `order_id` with the next `aggregate_seq`.
pub async fn emit<C: ConnectionTrait, E: events::Event>(
    db: &C,
    order_id: Uuid,
    event: &E,
) -> Result<(), StoreError> {
    let trade_in = trade_ins::Entity::find_by_id(order_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("no trade-in for order {order_id}")))?;
    let next = trade_in.seq + 1;
    let updated = trade_ins::Entity::update_many()
        .col_expr(trade_ins::Column::Seq, Expr::value(next))
        .filter(trade_ins::Column::OrderId.eq(order_id))
        .filter(trade_ins::Column::Seq.eq(trade_in.seq))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Concurrent(order_id));
    }
    let seq = u64::try_from(next).unwrap_or(0);
    platform::outbox::publish(db, PRODUCER, &order_id.to_string(), seq, event).await?;
    Ok(())
}

async fn remember<C: ConnectionTrait>(
    db: &C,
    job: &Job,
    reason: Option<String>,
) -> Result<(), StoreError> {
    job_history::ActiveModel {
        id: Set(Uuid::now_v7()),
        job_id: Set(job.id),
        status: Set(job.status.as_str().to_owned()),
        partner_id: Set(job.partner_id),
        reason: Set(reason),
        at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Writes `job` (already changed) if nobody wrote it since it was read: the version
/// check is the backstop behind the sequencer's lease.
async fn write<C: ConnectionTrait>(db: &C, mut job: Job) -> Result<Job, StoreError> {
    let read = job.version;
    job.version = read + 1;
    job.updated_at = Utc::now();
    let mut row = job_row(&job);
    row.id = sea_orm::ActiveValue::Unchanged(job.id);
    let updated = jobs::Entity::update_many()
        .set(row)
        .filter(jobs::Column::Id.eq(job.id))
        .filter(jobs::Column::Version.eq(read))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Concurrent(job.id));
    }
    Ok(job)
}

/// Saves `job` (already changed) and its history row.
async fn save<C: ConnectionTrait>(
    db: &C,
    job: Job,
    reason: Option<String>,
) -> Result<Job, StoreError> {
    let job = write(db, job).await?;
    remember(db, &job, reason).await?;
    Ok(job)
}

/// How many jobs each of `partners` holds on `day`, not counting cancelled ones nor
/// `except` (the job being handed out, whose row may still name its previous partner). A
/// job taken away from a partner (declined, lapsed, unassigned) no longer names it.
async fn loads<C: ConnectionTrait>(
    db: &C,
    partners: &[Uuid],
    day: NaiveDate,
    except: Uuid,
) -> Result<HashMap<Uuid, i64>, StoreError> {
    if partners.is_empty() {
        return Ok(HashMap::new());
    }
    let held: Vec<(Option<Uuid>, i64)> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::PartnerId)
        .column_as(Expr::expr(Func::count(Expr::col(jobs::Column::Id))), "held")
        .filter(jobs::Column::PartnerId.is_in(partners.iter().copied()))
        .filter(jobs::Column::Day.eq(day_column(day)))
        .filter(jobs::Column::Status.ne(JobStatus::Cancelled.as_str()))
        .filter(jobs::Column::Id.ne(except))
        .group_by(jobs::Column::PartnerId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(held
        .into_iter()
        .filter_map(|(partner, held)| Some((partner?, held)))
        .collect())
}

/// The active partners of `kind` with their load on `day` (`job` not counted). A choice
/// made from these is only a proposal: [`reserve`] confirms it.
pub async fn candidates<C: ConnectionTrait>(
    db: &C,
    kind: PartnerKind,
    day: NaiveDate,
    job: Uuid,
) -> Result<Vec<Candidate>, StoreError> {
    let partners = partners::Entity::find()
        .filter(partners::Column::Kind.eq(kind.as_str()))
        .filter(partners::Column::Active.eq(true))
        .all(db)
        .await?;
    let ids: Vec<Uuid> = partners.iter().map(|row| row.id).collect();
    let held = loads(db, &ids, day, job).await?;
    partners
        .into_iter()
        .map(|row| {
            let load = held.get(&row.id).copied().unwrap_or(0);
            Ok(Partner::try_from(row)?.candidate(load))
        })
        .collect()
}

/// `partner_id` as it stands once this transaction holds it, with its load on `day`
/// counted after that (`job` not counted); `None` if it does not exist.
///
/// Holding: on PostgreSQL the partner's row is locked until the transaction ends, so two
/// transactions handing jobs to one partner take turns and the second counts the first's
/// job: capacity cannot be exceeded however many orders arrive at once. (Counting under
/// the order's own lease alone let concurrent orders for one partner both see room.)
/// SQLite has one writer at a time already.
async fn reserve<C: ConnectionTrait>(
    db: &C,
    partner_id: Uuid,
    day: NaiveDate,
    job: Uuid,
) -> Result<Option<Candidate>, StoreError> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT id FROM partners WHERE id = $1 FOR UPDATE",
            [partner_id.into()],
        ))
        .await?;
    }
    let Some(row) = partners::Entity::find_by_id(partner_id).one(db).await? else {
        return Ok(None);
    };
    let load = loads(db, &[partner_id], day, job)
        .await?
        .get(&partner_id)
        .copied()
        .unwrap_or(0);
    Ok(Some(Partner::try_from(row)?.candidate(load)))
}

/// Why an admin's assignment was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManualAssignError {
    #[error("job {0} does not exist")]
    JobNotFound(Uuid),
    #[error("the job is {}: only unassigned or offered jobs can be assigned", .0.as_str())]
    NotAssignable(JobStatus),
    #[error("partner {0} does not exist")]
    PartnerNotFound(Uuid),
    #[error("{}", .0.describe())]
    Ineligible(Ineligible),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An admin hands `job_id` to `partner_id`: the partner must be active, of the right kind,
/// serve the pincode and have capacity that day; that it declined the job before does not
/// matter (the admin decides). Offering it to the partner already holding the offer changes
/// nothing.
pub async fn assign_manually<C: ConnectionTrait>(
    db: &C,
    job_id: Uuid,
    partner_id: Uuid,
    admin: &str,
) -> Result<Job, ManualAssignError> {
    let job = job(db, job_id)
        .await?
        .ok_or(ManualAssignError::JobNotFound(job_id))?;
    if !job
        .needs_handing_to(partner_id)
        .map_err(ManualAssignError::NotAssignable)?
    {
        return Ok(job);
    }
    let candidate = reserve(db, partner_id, job.day, job.id)
        .await?
        .ok_or(ManualAssignError::PartnerNotFound(partner_id))?;
    if let Some(why) = ineligibility(&candidate, job.kind, &job.pincode, &[]) {
        return Err(ManualAssignError::Ineligible(why));
    }
    let job = job.handed_to(partner_id, Utc::now());
    let job = save(db, job, Some(format!("assigned by {admin}"))).await?;
    let event = proto::PartnerAssigned {
        order_id: job.order_id.to_string(),
        job_id: job.id.to_string(),
        partner_id: partner_id.to_string(),
        kind: job.kind.as_str().to_owned(),
    };
    emit(db, job.order_id, &event).await?;
    Ok(job)
}

/// Offers `job` to the best partner, or leaves it unassigned. `quiet`: an unassigned job
/// that stays unassigned publishes nothing again.
pub async fn assign<C: ConnectionTrait>(
    db: &C,
    job: Job,
    reason: &str,
    quiet: bool,
) -> Result<Job, StoreError> {
    let mut candidates = candidates(db, PartnerKind::for_job(job.kind), job.day, job.id).await?;
    // Each proposal is confirmed under the partner's lock; one found full meanwhile is
    // replaced by what the lock shows, and the choice is made again.
    let chosen = loop {
        let Some(proposed) = choose_partner(job.kind, &job.pincode, &job.excluded, &candidates)
        else {
            break None;
        };
        let held = reserve(db, proposed, job.day, job.id).await?;
        let confirmed = held.as_ref().is_some_and(|partner| {
            ineligibility(partner, job.kind, &job.pincode, &job.excluded).is_none()
        });
        if confirmed {
            break Some(proposed);
        }
        candidates.retain(|candidate| candidate.id != proposed);
        candidates.extend(held);
    };
    match chosen {
        Some(partner_id) => {
            let job = job.offered_to(partner_id, Utc::now());
            let job = save(db, job, Some(reason.to_owned())).await?;
            let event = proto::PartnerAssigned {
                order_id: job.order_id.to_string(),
                job_id: job.id.to_string(),
                partner_id: partner_id.to_string(),
                kind: job.kind.as_str().to_owned(),
            };
            emit(db, job.order_id, &event).await?;
            Ok(job)
        }
        None if quiet && job.status == JobStatus::Unassigned => Ok(job),
        None => {
            let why = "no active partner serves the pincode with capacity left".to_owned();
            let job = save(db, job.unassigned(), Some(why.clone())).await?;
            let event = proto::JobUnassigned {
                order_id: job.order_id.to_string(),
                job_id: job.id.to_string(),
                reason: why,
            };
            emit(db, job.order_id, &event).await?;
            Ok(job)
        }
    }
}

/// Takes the job away from its partner (declined, or the offer lapsed) and offers it again.
pub async fn reassign<C: ConnectionTrait>(
    db: &C,
    job: Job,
    reason: &str,
) -> Result<Job, StoreError> {
    assign(db, job.taken_back(), reason, false).await
}

/// Creates a job for the trade-in and offers it.
pub async fn create_job<C: ConnectionTrait>(
    db: &C,
    trade_in: &TradeIn,
    new: NewJob<'_>,
) -> Result<Job, StoreError> {
    let job = Job::created(Uuid::now_v7(), trade_in.order_id, new, Utc::now());
    let job = Job::try_from(job_row(&job).insert(db).await?)?;
    remember(db, &job, Some("created".into())).await?;
    let event = proto::JobCreated {
        order_id: job.order_id.to_string(),
        job_id: job.id.to_string(),
        kind: job.kind.as_str().to_owned(),
        pincode: job.pincode.clone(),
        address: job.address.clone(),
        slot_date: job.slot_date.clone(),
        slot_window: job.slot_window.clone(),
        variant_id: trade_in.variant_id.to_string(),
    };
    emit(db, job.order_id, &event).await?;
    assign(db, job, "offered", false).await
}

/// Moves `job` to `status` and tells its partner (the portal) through `JobStatusChanged`.
pub async fn progress<C: ConnectionTrait>(
    db: &C,
    mut job: Job,
    status: JobStatus,
    reason: Option<String>,
) -> Result<Job, StoreError> {
    job.status = status;
    let job = save(db, job, reason).await?;
    let event = proto::JobStatusChanged {
        order_id: job.order_id.to_string(),
        job_id: job.id.to_string(),
        partner_id: job.partner_id.map(|id| id.to_string()).unwrap_or_default(),
        kind: job.kind.as_str().to_owned(),
        status: job.status.as_str().to_owned(),
    };
    emit(db, job.order_id, &event).await?;
    Ok(job)
}

pub async fn cancel<C: ConnectionTrait>(db: &C, job: Job, reason: &str) -> Result<Job, StoreError> {
    let job = save(db, job.cancelled(), Some(reason.to_owned())).await?;
    let event = proto::JobCancelled {
        order_id: job.order_id.to_string(),
        job_id: job.id.to_string(),
        reason: reason.to_owned(),
    };
    emit(db, job.order_id, &event).await?;
    Ok(job)
}

/// Stores an inspection report and makes the job due for re-pricing.
pub async fn inspection_reported<C: ConnectionTrait>(
    db: &C,
    job: Job,
    answers: serde_json::Value,
    notes: String,
) -> Result<Job, StoreError> {
    let job = job.inspection_reported(answers, notes, Utc::now());
    let job = progress(db, job, JobStatus::InspectionReported, None).await?;
    platform::due_work::schedule(db, REQUOTE, &job.id.to_string(), Utc::now()).await?;
    Ok(job)
}

/// The re-pricing of `job` succeeded: it is completed, and nothing more is owed.
pub async fn repriced<C: ConnectionTrait>(db: &C, job: Job) -> Result<Job, StoreError> {
    progress(
        db,
        job.repriced(),
        JobStatus::Completed,
        Some("re-priced".into()),
    )
    .await
}

/// Re-pricing failed: try again at `next`, or, when quote refused the request itself
/// (`None`), stop and flag the job for an admin. (The re-pricing's own due work owes the
/// next attempt; this only records it on the job, where admins look.)
pub async fn requote_failed<C: ConnectionTrait>(
    db: &C,
    job: Job,
    error: String,
    next: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    write(db, job.requote_failed(error, next)).await?;
    Ok(())
}

/// An admin asks for another re-pricing attempt now (after a refusal was fixed upstream).
pub async fn requote_again<C: ConnectionTrait>(db: &C, job: Job) -> Result<Job, StoreError> {
    let job = write(db, job.requote_again(Utc::now())).await?;
    platform::due_work::schedule(db, REQUOTE, &job.id.to_string(), Utc::now()).await?;
    Ok(job)
}

pub async fn job<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Job>, StoreError> {
    jobs::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Job::try_from)
        .transpose()
}

/// Records a confirmed order, its event sequence starting at 0.
pub async fn open_trade_in<C: ConnectionTrait>(
    db: &C,
    trade_in: TradeIn,
) -> Result<TradeIn, StoreError> {
    let row = trade_ins::ActiveModel {
        order_id: Set(trade_in.order_id),
        quote_id: Set(trade_in.quote_id),
        variant_id: Set(trade_in.variant_id),
        pincode: Set(trade_in.pincode),
        address: Set(trade_in.address),
        slot_date: Set(trade_in.slot_date),
        slot_window: Set(trade_in.slot_window),
        seq: Set(0),
        quoted_amount_minor: Set(trade_in.quoted_amount_minor),
        quoted_currency: Set(trade_in.quoted_currency),
    };
    Ok(row.insert(db).await?.into())
}

pub async fn trade_in<C: ConnectionTrait>(
    db: &C,
    order_id: Uuid,
) -> Result<Option<TradeIn>, StoreError> {
    Ok(trade_ins::Entity::find_by_id(order_id)
        .one(db)
        .await?
        .map(TradeIn::from))
}

pub async fn open_jobs_of<C: ConnectionTrait>(
    db: &C,
    order_id: Uuid,
) -> Result<Vec<Job>, StoreError> {
    jobs_of(
        jobs::Entity::find()
            .filter(jobs::Column::OrderId.eq(order_id))
            .filter(
                jobs::Column::Status
                    .is_not_in([JobStatus::Completed.as_str(), JobStatus::Cancelled.as_str()]),
            )
            .order_by_asc(jobs::Column::CreatedAt)
            .all(db)
            .await?,
    )
}

pub async fn history<C: ConnectionTrait>(
    db: &C,
    job_id: Uuid,
) -> Result<Vec<JobHistoryEntry>, StoreError> {
    job_history::Entity::find()
        .filter(job_history::Column::JobId.eq(job_id))
        .order_by_asc(job_history::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(JobHistoryEntry::try_from)
        .collect()
}

/// Offers that lapsed before `cutoff`, and unassigned jobs worth another try (an unreadable
/// job is logged and left out).
pub async fn jobs_to_reassign(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
) -> Result<(Vec<Job>, Vec<Job>), StoreError> {
    let lapsed = jobs::Entity::find()
        .filter(jobs::Column::Status.eq(JobStatus::Offered.as_str()))
        .filter(jobs::Column::OfferedAt.lt(cutoff))
        .limit(100)
        .all(db)
        .await?;
    let unassigned = jobs::Entity::find()
        .filter(jobs::Column::Status.eq(JobStatus::Unassigned.as_str()))
        .order_by_asc(jobs::Column::CreatedAt)
        .limit(100)
        .all(db)
        .await?;
    Ok((readable(lapsed), readable(unassigned)))
}

/// The jobs among `rows` that can be read; an unreadable one is logged and left out, so it
/// does not hold up the others.
fn readable(rows: Vec<jobs::Model>) -> Vec<Job> {
    rows.into_iter()
        .filter_map(|row| {
            Job::try_from(row)
                .inspect_err(|error| tracing::error!(%error, "a job cannot be read; skipped"))
                .ok()
        })
        .collect()
}

#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<JobKind>,
    pub partner_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
}

pub async fn list_jobs(
    db: &DatabaseConnection,
    filter: &JobFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Job>, u64), StoreError> {
    let mut query = jobs::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(jobs::Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(jobs::Column::Kind.eq(kind.as_str()));
    }
    if let Some(partner_id) = filter.partner_id {
        query = query.filter(jobs::Column::PartnerId.eq(partner_id));
    }
    if let Some(order_id) = filter.order_id {
        query = query.filter(jobs::Column::OrderId.eq(order_id));
    }
    let total = query.clone().count(db).await?;
    let items = query
        .order_by_desc(jobs::Column::CreatedAt)
        .order_by_desc(jobs::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((jobs_of(items)?, total))
}

#[derive(Debug, Default, Clone)]
pub struct PartnerFilter {
    pub kind: Option<PartnerKind>,
    pub active: Option<bool>,
    pub pincode: Option<String>,
    pub only: Option<Uuid>,
}

pub async fn list_partners(
    db: &DatabaseConnection,
    filter: &PartnerFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Partner>, u64), StoreError> {
    let mut query = partners::Entity::find();
    if let Some(kind) = filter.kind {
        query = query.filter(partners::Column::Kind.eq(kind.as_str()));
    }
    if let Some(active) = filter.active {
        query = query.filter(partners::Column::Active.eq(active));
    }
    if let Some(pincode) = &filter.pincode {
        query = query.filter(partners::Column::Pincodes.contains(pincode.as_str()));
    }
    if let Some(only) = filter.only {
        query = query.filter(partners::Column::Id.eq(only));
    }
    let total = query.clone().count(db).await?;
    let items = query
        .order_by_asc(partners::Column::Name)
        .order_by_asc(partners::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(Partner::try_from)
        .collect::<Result<_, _>>()?;
    Ok((items, total))
}

pub async fn partner(db: &DatabaseConnection, id: Uuid) -> Result<Option<Partner>, StoreError> {
    partners::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Partner::try_from)
        .transpose()
}

/// Registers `partner` as it is now.
pub async fn insert_partner(
    db: &DatabaseConnection,
    partner: NewPartner,
) -> Result<Partner, StoreError> {
    let partner = Partner::registered(partner, Utc::now());
    Partner::try_from(partner_row(&partner).insert(db).await?)
}

/// Writes `partner` (already changed) over its row.
pub async fn update_partner(
    db: &DatabaseConnection,
    partner: &Partner,
) -> Result<Partner, StoreError> {
    Partner::try_from(partner_row(partner).update(db).await?)
}

/// The jobs not yet completed or cancelled, counted by partner (`None`: unassigned), kind
/// and status: what the partners dashboard shows. One indexed pass over the open jobs.
pub async fn open_jobs<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(Option<Uuid>, String, String, i64)>, StoreError> {
    let open = [
        JobStatus::Unassigned,
        JobStatus::Offered,
        JobStatus::Accepted,
        JobStatus::PickedUp,
        JobStatus::InspectionReported,
    ];
    debug_assert!(open.iter().all(|status| !status.is_final()));
    Ok(jobs::Entity::find()
        .select_only()
        .column(jobs::Column::PartnerId)
        .column(jobs::Column::Kind)
        .column(jobs::Column::Status)
        .column_as(jobs::Column::Id.count(), "open")
        .filter(jobs::Column::Status.is_in(open.iter().map(|status| status.as_str())))
        .group_by(jobs::Column::PartnerId)
        .group_by(jobs::Column::Kind)
        .group_by(jobs::Column::Status)
        .into_tuple()
        .all(db)
        .await?)
}

/// Every partner's id, name, kind and whether it is active.
pub async fn partner_names<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(Uuid, String, String, bool)>, StoreError> {
    Ok(partners::Entity::find()
        .select_only()
        .column(partners::Column::Id)
        .column(partners::Column::Name)
        .column(partners::Column::Kind)
        .column(partners::Column::Active)
        .into_tuple()
        .all(db)
        .await?)
}
