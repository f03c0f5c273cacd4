//! Fulfilment's persistence. Every change to an order's jobs runs in one transaction that
//! also writes its `fulfilment.events` rows; `trade_ins.seq` numbers them per order and is
//! bumped with a compare-and-set, so a writer holding a stale lease cannot commit.

pub mod entities;

use chrono::{DateTime, NaiveDate, Utc};
use events::fulfilment as proto;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::domain::{
    Candidate, Ineligible, JobKind, JobStatus, PartnerKind, choose_partner, ineligibility,
};
pub use entities::{job_history, jobs, partners, trade_ins};

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

pub fn job_kind(job: &jobs::Model) -> Result<JobKind, StoreError> {
    JobKind::parse(&job.kind).ok_or_else(|| StoreError::Corrupt(format!("job kind {}", job.kind)))
}

pub fn job_status(job: &jobs::Model) -> Result<JobStatus, StoreError> {
    JobStatus::parse(&job.status)
        .ok_or_else(|| StoreError::Corrupt(format!("job status {}", job.status)))
}

fn excluded(job: &jobs::Model) -> Vec<Uuid> {
    job.excluded
        .split(',')
        .filter_map(|id| Uuid::parse_str(id.trim()).ok())
        .collect()
}

pub fn pincodes(partner: &partners::Model) -> Vec<String> {
    partner
        .pincodes
        .split(',')
        .filter(|pincode| !pincode.is_empty())
        .map(str::to_owned)
        .collect()
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
    job: &jobs::Model,
    reason: Option<String>,
) -> Result<(), StoreError> {
    job_history::ActiveModel {
        id: Set(Uuid::now_v7()),
        job_id: Set(job.id),
        status: Set(job.status.clone()),
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
async fn write<C: ConnectionTrait>(
    db: &C,
    mut job: jobs::Model,
) -> Result<jobs::Model, StoreError> {
    let read = job.version;
    job.version = read + 1;
    job.updated_at = Utc::now();
    let mut active: jobs::ActiveModel = job.clone().into();
    active = active.reset_all();
    active.id = sea_orm::ActiveValue::Unchanged(job.id);
    let updated = jobs::Entity::update_many()
        .set(active)
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
    job: jobs::Model,
    reason: Option<String>,
) -> Result<jobs::Model, StoreError> {
    let job = write(db, job).await?;
    remember(db, &job, reason).await?;
    Ok(job)
}

/// How many jobs each partner holds on `day`, not counting cancelled ones. A job taken
/// away from a partner (declined, lapsed, unassigned) no longer names it.
async fn loads<C: ConnectionTrait>(db: &C, day: &str) -> Result<Vec<Uuid>, StoreError> {
    let held: Vec<Option<Uuid>> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::PartnerId)
        .filter(jobs::Column::Day.eq(day))
        .filter(jobs::Column::PartnerId.is_not_null())
        .filter(jobs::Column::Status.ne(JobStatus::Cancelled.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(held.into_iter().flatten().collect())
}

fn candidate(partner: &partners::Model, held: &[Uuid]) -> Result<Candidate, StoreError> {
    let kind = PartnerKind::parse(&partner.kind)
        .ok_or_else(|| StoreError::Corrupt(format!("partner kind {}", partner.kind)))?;
    let load = held.iter().filter(|holder| **holder == partner.id).count();
    Ok(Candidate {
        id: partner.id,
        kind,
        active: partner.active,
        pincodes: pincodes(partner),
        daily_capacity: partner.daily_capacity,
        load: i64::try_from(load).unwrap_or(i64::MAX),
    })
}

/// The active partners of `kind` with their load on `day`.
pub async fn candidates<C: ConnectionTrait>(
    db: &C,
    kind: PartnerKind,
    day: &str,
) -> Result<Vec<Candidate>, StoreError> {
    let partners = partners::Entity::find()
        .filter(partners::Column::Kind.eq(kind.as_str()))
        .filter(partners::Column::Active.eq(true))
        .all(db)
        .await?;
    let held = loads(db, day).await?;
    partners
        .iter()
        .map(|partner| candidate(partner, &held))
        .collect()
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
) -> Result<jobs::Model, ManualAssignError> {
    let mut job = job(db, job_id)
        .await?
        .ok_or(ManualAssignError::JobNotFound(job_id))?;
    let status = job_status(&job)?;
    if !status.assignable() {
        return Err(ManualAssignError::NotAssignable(status));
    }
    if status == JobStatus::Offered && job.partner_id == Some(partner_id) {
        return Ok(job);
    }
    let partner = partners::Entity::find_by_id(partner_id)
        .one(db)
        .await
        .map_err(StoreError::from)?
        .ok_or(ManualAssignError::PartnerNotFound(partner_id))?;
    let candidate = candidate(&partner, &loads(db, &job.day).await?)?;
    if let Some(why) = ineligibility(&candidate, job_kind(&job)?, &job.pincode, &[]) {
        return Err(ManualAssignError::Ineligible(why));
    }
    let mut excluded = excluded(&job);
    if let Some(previous) = job.partner_id {
        excluded.push(previous);
    }
    excluded.retain(|id| *id != partner_id);
    job.excluded = joined_ids(&excluded);
    job.partner_id = Some(partner_id);
    job.status = JobStatus::Offered.as_str().to_owned();
    job.offered_at = Some(Utc::now());
    let job = save(db, job, Some(format!("assigned by {admin}"))).await?;
    let event = proto::PartnerAssigned {
        order_id: job.order_id.to_string(),
        job_id: job.id.to_string(),
        partner_id: partner_id.to_string(),
        kind: job.kind.clone(),
    };
    emit(db, job.order_id, &event).await?;
    Ok(job)
}

fn joined_ids(ids: &[Uuid]) -> String {
    let mut unique: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    unique.sort_unstable();
    unique.dedup();
    unique.join(",")
}

/// Offers `job` to the best partner, or leaves it unassigned. `quiet`: an unassigned job
/// that stays unassigned publishes nothing again.
pub async fn assign<C: ConnectionTrait>(
    db: &C,
    mut job: jobs::Model,
    reason: &str,
    quiet: bool,
) -> Result<jobs::Model, StoreError> {
    let kind = job_kind(&job)?;
    let candidates = candidates(db, kind.partner_kind(), &job.day).await?;
    match choose_partner(kind, &job.pincode, &excluded(&job), &candidates) {
        Some(partner_id) => {
            job.partner_id = Some(partner_id);
            job.status = JobStatus::Offered.as_str().to_owned();
            job.offered_at = Some(Utc::now());
            let job = save(db, job, Some(reason.to_owned())).await?;
            let event = proto::PartnerAssigned {
                order_id: job.order_id.to_string(),
                job_id: job.id.to_string(),
                partner_id: partner_id.to_string(),
                kind: job.kind.clone(),
            };
            emit(db, job.order_id, &event).await?;
            Ok(job)
        }
        None if quiet && job.status == JobStatus::Unassigned.as_str() => Ok(job),
        None => {
            job.partner_id = None;
            job.status = JobStatus::Unassigned.as_str().to_owned();
            job.offered_at = None;
            let why = "no active partner serves the pincode with capacity left".to_owned();
            let job = save(db, job, Some(why.clone())).await?;
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
    mut job: jobs::Model,
    reason: &str,
) -> Result<jobs::Model, StoreError> {
    if let Some(previous) = job.partner_id {
        let mut excluded = excluded(&job);
        excluded.push(previous);
        job.excluded = joined_ids(&excluded);
    }
    assign(db, job, reason, false).await
}

pub struct NewJob<'a> {
    pub kind: JobKind,
    pub day: NaiveDate,
    pub pincode: &'a str,
    pub address: &'a str,
    pub slot_date: &'a str,
    pub slot_window: &'a str,
}

/// Creates a job for the trade-in and offers it.
pub async fn create_job<C: ConnectionTrait>(
    db: &C,
    trade_in: &trade_ins::Model,
    new: NewJob<'_>,
) -> Result<jobs::Model, StoreError> {
    let now = Utc::now();
    let job = jobs::ActiveModel {
        id: Set(Uuid::now_v7()),
        order_id: Set(trade_in.order_id),
        kind: Set(new.kind.as_str().to_owned()),
        status: Set(JobStatus::Unassigned.as_str().to_owned()),
        partner_id: Set(None),
        day: Set(new.day.to_string()),
        pincode: Set(new.pincode.to_owned()),
        address: Set(new.address.to_owned()),
        slot_date: Set(new.slot_date.to_owned()),
        slot_window: Set(new.slot_window.to_owned()),
        offered_at: Set(None),
        excluded: Set(String::new()),
        answers: Set(None),
        notes: Set(None),
        requote_due_at: Set(None),
        requote_attempts: Set(0),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
        requote_failed: Set(false),
    }
    .insert(db)
    .await?;
    remember(db, &job, Some("created".into())).await?;
    let event = proto::JobCreated {
        order_id: job.order_id.to_string(),
        job_id: job.id.to_string(),
        kind: job.kind.clone(),
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
    mut job: jobs::Model,
    status: JobStatus,
    reason: Option<String>,
) -> Result<jobs::Model, StoreError> {
    job.status = status.as_str().to_owned();
    let job = save(db, job, reason).await?;
    let event = proto::JobStatusChanged {
        order_id: job.order_id.to_string(),
        job_id: job.id.to_string(),
        partner_id: job.partner_id.map(|id| id.to_string()).unwrap_or_default(),
        kind: job.kind.clone(),
        status: job.status.clone(),
    };
    emit(db, job.order_id, &event).await?;
    Ok(job)
}

pub async fn cancel<C: ConnectionTrait>(
    db: &C,
    mut job: jobs::Model,
    reason: &str,
) -> Result<jobs::Model, StoreError> {
    job.status = JobStatus::Cancelled.as_str().to_owned();
    job.requote_due_at = None;
    let job = save(db, job, Some(reason.to_owned())).await?;
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
    mut job: jobs::Model,
    answers: serde_json::Value,
    notes: String,
) -> Result<jobs::Model, StoreError> {
    job.answers = Some(answers);
    job.notes = Some(notes);
    job.requote_due_at = Some(Utc::now());
    job.requote_attempts = 0;
    job.requote_failed = false;
    job.last_error = None;
    let job = progress(db, job, JobStatus::InspectionReported, None).await?;
    platform::due_work::schedule(db, REQUOTE, &job.id.to_string(), Utc::now()).await?;
    Ok(job)
}

/// Re-pricing failed: try again at `next`, or, when quote refused the request itself
/// (`None`), stop and flag the job for an admin. (The re-pricing's own due work owes the
/// next attempt; this only records it on the job, where admins look.)
pub async fn requote_failed<C: ConnectionTrait>(
    db: &C,
    mut job: jobs::Model,
    error: String,
    next: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    job.requote_attempts = job.requote_attempts.saturating_add(1);
    job.requote_failed = next.is_none();
    job.requote_due_at = next;
    job.last_error = Some(error);
    write(db, job).await?;
    Ok(())
}

/// An admin asks for another re-pricing attempt now (after a refusal was fixed upstream).
pub async fn requote_again<C: ConnectionTrait>(
    db: &C,
    mut job: jobs::Model,
) -> Result<jobs::Model, StoreError> {
    job.requote_failed = false;
    job.requote_due_at = Some(Utc::now());
    let job = write(db, job).await?;
    platform::due_work::schedule(db, REQUOTE, &job.id.to_string(), Utc::now()).await?;
    Ok(job)
}

pub async fn job<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<jobs::Model>, StoreError> {
    Ok(jobs::Entity::find_by_id(id).one(db).await?)
}

/// What fulfilment keeps of a confirmed order: where and when to pick up, what was quoted.
pub struct NewTradeIn {
    pub order_id: Uuid,
    pub quote_id: Uuid,
    pub variant_id: Uuid,
    pub pincode: String,
    pub address: String,
    pub slot_date: String,
    pub slot_window: String,
    pub quoted_amount_minor: i64,
    pub quoted_currency: String,
}

/// Records a confirmed order, its event sequence starting at 0.
pub async fn open_trade_in<C: ConnectionTrait>(
    db: &C,
    trade_in: NewTradeIn,
) -> Result<trade_ins::Model, StoreError> {
    Ok(trade_ins::ActiveModel {
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
    }
    .insert(db)
    .await?)
}

pub async fn trade_in<C: ConnectionTrait>(
    db: &C,
    order_id: Uuid,
) -> Result<Option<trade_ins::Model>, StoreError> {
    Ok(trade_ins::Entity::find_by_id(order_id).one(db).await?)
}

pub async fn open_jobs_of<C: ConnectionTrait>(
    db: &C,
    order_id: Uuid,
) -> Result<Vec<jobs::Model>, StoreError> {
    Ok(jobs::Entity::find()
        .filter(jobs::Column::OrderId.eq(order_id))
        .filter(
            jobs::Column::Status
                .is_not_in([JobStatus::Completed.as_str(), JobStatus::Cancelled.as_str()]),
        )
        .order_by_asc(jobs::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn history<C: ConnectionTrait>(
    db: &C,
    job_id: Uuid,
) -> Result<Vec<job_history::Model>, StoreError> {
    Ok(job_history::Entity::find()
        .filter(job_history::Column::JobId.eq(job_id))
        .order_by_asc(job_history::Column::Id)
        .all(db)
        .await?)
}

/// Offers that lapsed before `cutoff`, and unassigned jobs worth another try.
pub async fn jobs_to_reassign(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
) -> Result<(Vec<jobs::Model>, Vec<jobs::Model>), StoreError> {
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
    Ok((lapsed, unassigned))
}

#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub partner_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
}

pub async fn list_jobs(
    db: &DatabaseConnection,
    filter: &JobFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<jobs::Model>, u64), StoreError> {
    let mut query = jobs::Entity::find();
    if let Some(status) = &filter.status {
        query = query.filter(jobs::Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = &filter.kind {
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
    Ok((items, total))
}

#[derive(Debug, Default, Clone)]
pub struct PartnerFilter {
    pub kind: Option<String>,
    pub active: Option<bool>,
    pub pincode: Option<String>,
    pub only: Option<Uuid>,
}

pub async fn list_partners(
    db: &DatabaseConnection,
    filter: &PartnerFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<partners::Model>, u64), StoreError> {
    let mut query = partners::Entity::find();
    if let Some(kind) = &filter.kind {
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
        .await?;
    Ok((items, total))
}

pub async fn partner(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<partners::Model>, StoreError> {
    Ok(partners::Entity::find_by_id(id).one(db).await?)
}

/// A partner to register, as an admin or the seed describes it.
#[derive(Debug, Clone)]
pub struct NewPartner {
    pub id: Uuid,
    pub name: String,
    pub kind: PartnerKind,
    pub pincodes: Vec<String>,
    pub daily_capacity: i64,
    pub active: bool,
}

pub async fn insert_partner(
    db: &DatabaseConnection,
    partner: NewPartner,
) -> Result<partners::Model, StoreError> {
    let now = Utc::now();
    let row = partners::ActiveModel {
        id: Set(partner.id),
        name: Set(partner.name),
        kind: Set(partner.kind.as_str().to_owned()),
        pincodes: Set(partner.pincodes.join(",")),
        daily_capacity: Set(partner.daily_capacity),
        active: Set(partner.active),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?)
}

pub async fn update_partner(
    db: &DatabaseConnection,
    partner: partners::Model,
) -> Result<partners::Model, StoreError> {
    let active: partners::ActiveModel = partner.into();
    Ok(active.reset_all().update(db).await?)
}
