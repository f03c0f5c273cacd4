//! The back office's view of fulfilment: partners (admin writes) and jobs. A partner's token
//! may read its own partner record and the jobs it holds through the same routes; anything
//! else is "not found", so ids cannot be probed.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::error::{AuthProblems, BodyProblems};
use platform::pagination::{PageQuery, PageRequest, Paged};
use platform::sequencer::{Sequencer, run_in_sequence};
use platform::service::AdminRoutes;
use platform::validation::{Violations, check_text};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::domain::{JobKind, JobStatus, PartnerKind, valid_pincode};
use crate::error::FulfilmentError;
use crate::store::{
    self, JobFilter, ManualAssignError, NewPartner, PartnerFilter, job_history, jobs, partners,
};
use crate::workers::PartnersChanged;

pub struct FulfilmentState {
    pub db: sea_orm::DatabaseConnection,
    /// Admin changes to a job run under its order's lease, like the consumer's.
    pub sequencer: Arc<dyn Sequencer>,
    /// Wakes the reassigner: a partner change may place unassigned jobs.
    pub partners_changed: PartnersChanged,
}

const ADMIN: &[Role] = &[Role::Admin];
const READERS: &[Role] = &[Role::Admin, Role::Partner];
const MAX_PINCODES: usize = 500;

/// `admin`: the admin scope the service builder prepared (dead-letter routes inside).
pub fn configure(cfg: &mut ServiceConfig, admin: &AdminRoutes) {
    let jobs_scope = admin.scope();
    cfg.service(create_partner)
        .service(list_partners)
        .service(get_partner)
        .service(update_partner)
        .service(
            jobs_scope
                .service(list_jobs)
                .service(get_job)
                .service(get_job_history)
                .service(assign_job)
                .service(requote_job),
        );
}

fn private_json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn page(query: &PageQuery) -> Result<PageRequest, FulfilmentError> {
    query.validated().map_err(FulfilmentError::InvalidQuery)
}

/// The partner a partner token speaks for (`None` for admins).
fn scope_of(principal: &Principal) -> Result<Option<Uuid>, ApiError> {
    principal.require(READERS)?;
    Ok(match principal.role {
        Role::Partner => Some(principal.partner_id.unwrap_or_else(Uuid::nil)),
        _ => None,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub id: Uuid,
    pub name: String,
    /// logistics | repair
    pub kind: String,
    pub pincodes: Vec<String>,
    pub daily_capacity: i64,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&partners::Model> for PartnerView {
    fn from(partner: &partners::Model) -> Self {
        Self {
            id: partner.id,
            name: partner.name.clone(),
            kind: partner.kind.clone(),
            pincodes: store::pincodes(partner),
            daily_capacity: partner.daily_capacity,
            active: partner.active,
            created_at: partner.created_at,
            updated_at: partner.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartnerRequest {
    pub name: String,
    /// logistics | repair
    pub kind: String,
    pub pincodes: Vec<String>,
    pub daily_capacity: i64,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerChangeRequest {
    pub name: Option<String>,
    pub pincodes: Option<Vec<String>>,
    pub daily_capacity: Option<i64>,
    pub active: Option<bool>,
}

fn check_pincodes(violations: &mut Violations, pincodes: &[String]) {
    violations.check(
        !pincodes.is_empty(),
        "pincodes",
        "must list at least one pincode",
    );
    violations.check(
        pincodes.len() <= MAX_PINCODES,
        "pincodes",
        format!("at most {MAX_PINCODES} pincodes"),
    );
    for (index, pincode) in pincodes.iter().enumerate() {
        violations.check(
            valid_pincode(pincode),
            format!("pincodes[{index}]"),
            "must be six digits, not starting with 0",
        );
    }
}

fn check_capacity(violations: &mut Violations, capacity: i64) {
    violations.check(
        (1..=1000).contains(&capacity),
        "daily_capacity",
        "must be between 1 and 1000",
    );
}

fn unique(pincodes: &[String]) -> Vec<String> {
    let mut unique = pincodes.to_vec();
    unique.sort_unstable();
    unique.dedup();
    unique
}

fn joined(pincodes: &[String]) -> String {
    unique(pincodes).join(",")
}

/// Register a partner; unassigned jobs it can take are offered to it at once.
#[utoipa::path(
    tag = "partners",
    security(("bearer" = [])),
    request_body = NewPartnerRequest,
    responses((status = 201, body = PartnerView), AuthProblems, BodyProblems)
)]
#[post("/v1/admin/partners")]
pub async fn create_partner(
    principal: Principal,
    body: web::Json<NewPartnerRequest>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let body = body.into_inner();
    let mut violations = Violations::default();
    check_text(&mut violations, "name", &body.name, 200);
    let kind = PartnerKind::parse(&body.kind);
    violations.check(kind.is_some(), "kind", "must be logistics or repair");
    check_pincodes(&mut violations, &body.pincodes);
    check_capacity(&mut violations, body.daily_capacity);
    // A kind that did not parse is among the violations.
    let (Some(kind), true) = (kind, violations.0.is_empty()) else {
        return Err(FulfilmentError::from(violations).into());
    };
    let partner = store::insert_partner(
        &state.db,
        NewPartner {
            id: Uuid::now_v7(),
            name: body.name.trim().to_owned(),
            kind,
            pincodes: unique(&body.pincodes),
            daily_capacity: body.daily_capacity,
            active: body.active,
        },
    )
    .await
    .map_err(FulfilmentError::from)?;
    state.partners_changed.announce().await;
    tracing::info!(partner_id = %partner.id, admin = %principal.subject, "partner registered");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/admin/partners/{}", partner.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(PartnerView::from(&partner)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PartnerQuery {
    pub kind: Option<String>,
    pub active: Option<bool>,
    pub pincode: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

/// Partners (a partner sees only itself).
#[utoipa::path(
    tag = "partners",
    security(("bearer" = [])),
    params(PartnerQuery),
    responses((status = 200, body = Paged<PartnerView>), AuthProblems)
)]
#[get("/v1/admin/partners")]
pub async fn list_partners(
    principal: Principal,
    query: web::Query<PartnerQuery>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    let only = scope_of(&principal)?;
    let request = page(&PageQuery {
        page: query.page,
        per_page: query.per_page,
    })?;
    if query
        .kind
        .as_deref()
        .is_some_and(|kind| PartnerKind::parse(kind).is_none())
    {
        return Err(
            FulfilmentError::InvalidQuery("kind must be logistics or repair".into()).into(),
        );
    }
    if query
        .pincode
        .as_deref()
        .is_some_and(|pincode| !valid_pincode(pincode))
    {
        return Err(FulfilmentError::InvalidQuery("pincode must be six digits".into()).into());
    }
    let filter = PartnerFilter {
        kind: query.kind.clone(),
        active: query.active,
        pincode: query.pincode.clone(),
        only,
    };
    let (items, total) =
        store::list_partners(&state.db, &filter, request.offset(), request.per_page)
            .await
            .map_err(FulfilmentError::from)?;
    let items = items.iter().map(PartnerView::from).collect();
    Ok(private_json(
        StatusCode::OK,
        &Paged::new(items, request, total),
    ))
}

async fn visible_partner(
    state: &FulfilmentState,
    principal: &Principal,
    id: Uuid,
) -> Result<partners::Model, ApiError> {
    let only = scope_of(principal)?;
    match store::partner(&state.db, id)
        .await
        .map_err(FulfilmentError::from)?
    {
        Some(partner) if only.is_none_or(|own| own == partner.id) => Ok(partner),
        _ => Err(FulfilmentError::PartnerNotFound(id).into()),
    }
}

/// One partner.
#[utoipa::path(
    tag = "partners",
    security(("bearer" = [])),
    responses((status = 200, body = PartnerView), AuthProblems)
)]
#[get("/v1/admin/partners/{id}")]
pub async fn get_partner(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    let partner = visible_partner(&state, &principal, id.into_inner()).await?;
    Ok(private_json(StatusCode::OK, &PartnerView::from(&partner)))
}

/// Change a partner: pause or resume it, its pincodes or its capacity.
#[utoipa::path(
    tag = "partners",
    security(("bearer" = [])),
    request_body = PartnerChangeRequest,
    responses((status = 200, body = PartnerView), AuthProblems, BodyProblems)
)]
#[patch("/v1/admin/partners/{id}")]
pub async fn update_partner(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<PartnerChangeRequest>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let id = id.into_inner();
    let body = body.into_inner();
    let mut violations = Violations::default();
    if let Some(name) = &body.name {
        check_text(&mut violations, "name", name, 200);
    }
    if let Some(pincodes) = &body.pincodes {
        check_pincodes(&mut violations, pincodes);
    }
    if let Some(capacity) = body.daily_capacity {
        check_capacity(&mut violations, capacity);
    }
    violations.into_result(()).map_err(FulfilmentError::from)?;
    let mut partner = store::partner(&state.db, id)
        .await
        .map_err(FulfilmentError::from)?
        .ok_or(FulfilmentError::PartnerNotFound(id))?;
    if let Some(name) = body.name {
        partner.name = name.trim().to_owned();
    }
    if let Some(pincodes) = body.pincodes {
        partner.pincodes = joined(&pincodes);
    }
    if let Some(capacity) = body.daily_capacity {
        partner.daily_capacity = capacity;
    }
    if let Some(active) = body.active {
        partner.active = active;
    }
    partner.updated_at = Utc::now();
    let partner = store::update_partner(&state.db, partner)
        .await
        .map_err(FulfilmentError::from)?;
    state.partners_changed.announce().await;
    Ok(private_json(StatusCode::OK, &PartnerView::from(&partner)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequoteView {
    /// True when quote refused the re-pricing request itself (say, answers that fit no
    /// questionnaire): no more automatic attempts; `last_error` says why.
    pub failed: bool,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    pub status: String,
    pub partner_id: Option<Uuid>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<&job_history::Model> for HistoryItem {
    fn from(row: &job_history::Model) -> Self {
        Self {
            status: row.status.clone(),
            partner_id: row.partner_id,
            reason: row.reason.clone(),
            at: row.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    pub order_id: Uuid,
    /// pickup | inspection | return
    pub kind: String,
    pub status: String,
    pub partner_id: Option<Uuid>,
    /// The day the job counts against its partner's capacity.
    pub day: String,
    pub pincode: String,
    pub address: String,
    pub slot_date: String,
    pub slot_window: String,
    pub offered_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub requote: RequoteView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryItem>>,
}

impl From<&jobs::Model> for JobView {
    fn from(job: &jobs::Model) -> Self {
        Self {
            id: job.id,
            order_id: job.order_id,
            kind: job.kind.clone(),
            status: job.status.clone(),
            partner_id: job.partner_id,
            day: job.day.clone(),
            pincode: job.pincode.clone(),
            address: job.address.clone(),
            slot_date: job.slot_date.clone(),
            slot_window: job.slot_window.clone(),
            offered_at: job.offered_at,
            notes: job.notes.clone(),
            requote: RequoteView {
                failed: job.requote_failed,
                attempts: job.requote_attempts,
                next_attempt_at: job.requote_due_at,
                last_error: job.last_error.clone(),
            },
            created_at: job.created_at,
            updated_at: job.updated_at,
            history: None,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// unassigned (the admin queue) | offered | accepted | picked_up | inspection_reported | completed | cancelled
    pub status: Option<String>,
    pub kind: Option<String>,
    pub partner_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

/// Jobs, newest first; `status=unassigned` is the queue of jobs no partner could take.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    params(JobQuery),
    responses((status = 200, body = Paged<JobView>), AuthProblems)
)]
#[get("")]
pub async fn list_jobs(
    principal: Principal,
    query: web::Query<JobQuery>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    let only = scope_of(&principal)?;
    let request = page(&PageQuery {
        page: query.page,
        per_page: query.per_page,
    })?;
    if let Some(status) = query
        .status
        .as_deref()
        .filter(|status| JobStatus::parse(status).is_none())
    {
        return Err(FulfilmentError::InvalidQuery(format!("unknown status `{status}`")).into());
    }
    if let Some(kind) = query
        .kind
        .as_deref()
        .filter(|kind| JobKind::parse(kind).is_none())
    {
        return Err(FulfilmentError::InvalidQuery(format!("unknown kind `{kind}`")).into());
    }
    let partner_id = match (only, query.partner_id) {
        (Some(own), Some(asked)) if asked != own => {
            let empty: Vec<JobView> = Vec::new();
            return Ok(private_json(StatusCode::OK, &Paged::new(empty, request, 0)));
        }
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let filter = JobFilter {
        status: query.status.clone(),
        kind: query.kind.clone(),
        partner_id,
        order_id: query.order_id,
    };
    let (items, total) = store::list_jobs(&state.db, &filter, request.offset(), request.per_page)
        .await
        .map_err(FulfilmentError::from)?;
    let items = items.iter().map(JobView::from).collect();
    Ok(private_json(
        StatusCode::OK,
        &Paged::new(items, request, total),
    ))
}

/// The job `id` if `principal` may see it: admins any, a partner only one it holds.
async fn visible_job(
    state: &FulfilmentState,
    principal: &Principal,
    id: Uuid,
) -> Result<(jobs::Model, Option<Uuid>), ApiError> {
    let only = scope_of(principal)?;
    match store::job(&state.db, id)
        .await
        .map_err(FulfilmentError::from)?
    {
        Some(job) if only.is_none_or(|own| job.partner_id == Some(own)) => Ok((job, only)),
        _ => Err(FulfilmentError::JobNotFound(id).into()),
    }
}

/// The job's status history; a partner sees other partners' rows without their ids.
async fn history_of(
    state: &FulfilmentState,
    job_id: Uuid,
    only: Option<Uuid>,
) -> Result<Vec<HistoryItem>, ApiError> {
    let rows = store::history(&state.db, job_id)
        .await
        .map_err(FulfilmentError::from)?;
    Ok(rows
        .iter()
        .map(|row| {
            let mut item = HistoryItem::from(row);
            if only.is_some() && item.partner_id != only {
                item.partner_id = None;
            }
            item
        })
        .collect())
}

/// One job with its status history.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    responses((status = 200, body = JobView), AuthProblems)
)]
#[get("/{id}")]
pub async fn get_job(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    let (job, only) = visible_job(&state, &principal, id.into_inner()).await?;
    let mut view = JobView::from(&job);
    view.history = Some(history_of(&state, job.id, only).await?);
    Ok(private_json(StatusCode::OK, &view))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub job_id: Uuid,
    pub items: Vec<HistoryItem>,
}

/// Every status the job went through: who held it, when, and why.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    responses((status = 200, body = HistoryView), AuthProblems)
)]
#[get("/{id}/history")]
pub async fn get_job_history(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    let (job, only) = visible_job(&state, &principal, id.into_inner()).await?;
    let items = history_of(&state, job.id, only).await?;
    Ok(private_json(
        StatusCode::OK,
        &HistoryView {
            job_id: job.id,
            items,
        },
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub partner_id: Uuid,
}

/// Runs `change` on the job's order under its lease, in one transaction.
async fn change_job<T, F>(
    state: &FulfilmentState,
    job_id: Uuid,
    change: F,
) -> Result<T, FulfilmentError>
where
    F: AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<T, FulfilmentError>,
{
    let job = store::job(&state.db, job_id)
        .await?
        .ok_or(FulfilmentError::JobNotFound(job_id))?;
    let key = job.order_id.to_string();
    run_in_sequence(state.sequencer.as_ref(), &key, |_| async {
        let txn = state.db.begin().await?;
        let changed = change(&txn).await?;
        txn.commit().await?;
        Ok(changed)
    })
    .await?
}

/// Hand an unassigned or offered job to a partner of the admin's choosing. The partner must
/// be active, of the job's kind, serve its pincode and have capacity that day (422
/// otherwise); a job a partner has accepted, or a final one, is 409.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    request_body = AssignRequest,
    responses((status = 200, body = JobView), AuthProblems, BodyProblems)
)]
#[post("/{id}/assign")]
pub async fn assign_job(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<AssignRequest>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let job_id = id.into_inner();
    let partner_id = body.partner_id;
    let admin = principal.subject.clone();
    let job = change_job(&state, job_id, async |txn| {
        store::assign_manually(txn, job_id, partner_id, &admin)
            .await
            .map_err(|error| match error {
                ManualAssignError::JobNotFound(id) => FulfilmentError::JobNotFound(id),
                ManualAssignError::NotAssignable(current) => FulfilmentError::IllegalTransition {
                    current,
                    action: "assign",
                },
                ManualAssignError::PartnerNotFound(_) => {
                    let mut violations = Violations::default();
                    violations.check(false, "partner_id", "no such partner");
                    FulfilmentError::Validation(violations)
                }
                ManualAssignError::Ineligible(why) => {
                    let mut violations = Violations::default();
                    violations.check(false, "partner_id", why.describe());
                    FulfilmentError::Validation(violations)
                }
                ManualAssignError::Store(error) => FulfilmentError::Storage(error),
            })
    })
    .await?;
    tracing::info!(%job_id, %partner_id, admin = %principal.subject, "job assigned by an admin");
    Ok(private_json(StatusCode::OK, &JobView::from(&job)))
}

/// Try re-pricing an inspected job again now — after quote refused it (`requote.failed`)
/// and the cause was fixed, or to skip the backoff. 409 unless the job is
/// `inspection_reported`.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    responses((status = 200, body = JobView), AuthProblems)
)]
#[post("/{id}/requote")]
pub async fn requote_job(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let job_id = id.into_inner();
    let job = change_job(&state, job_id, async |txn| {
        let job = store::job(txn, job_id)
            .await?
            .ok_or(FulfilmentError::JobNotFound(job_id))?;
        let current = store::job_status(&job)?;
        if current != JobStatus::InspectionReported {
            return Err(FulfilmentError::IllegalTransition {
                current,
                action: "requote",
            });
        }
        Ok::<_, FulfilmentError>(store::requote_again(txn, job).await?)
    })
    .await?;
    Ok(private_json(StatusCode::OK, &JobView::from(&job)))
}
