//! Jobs: the back office's queue and each job's history, plus the two things an admin does
//! to a job (hand it to a partner, ask for re-pricing again); a partner may read the jobs it
//! holds.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use platform::ApiError;
use platform::auth::{Allow, Principal};
use platform::error::{AuthProblems, BodyProblems};
use platform::pagination::{PageQuery, Paged};
use platform::sequencer::run_in_sequence;
use platform::validation::Violations;
use sea_orm::TransactionTrait;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::answers::{JobActionAnswers, JobNotFound};
use super::dto::{AssignRequest, HistoryItem, HistoryView, JobView};
use super::{ADMIN, FulfilmentState, READERS, page, private_json, scope_of};
use crate::domain::{Job, JobKind, JobStatus};
use crate::error::FulfilmentError;
use crate::store::{self, JobFilter, ManualAssignError};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `unassigned` is the admin queue.
    #[param(schema_with = platform::schema::names::<JobStatus>)]
    pub status: Option<String>,
    #[param(schema_with = platform::schema::names::<JobKind>)]
    pub kind: Option<String>,
    pub partner_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

/// Jobs, newest first; `status=unassigned` is the queue of jobs no partner could take.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    params(JobQuery),
    responses((status = 200, body = Paged<JobView>), AuthProblems)
)]
#[get("", wrap = "Allow::only(READERS)")]
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
    let status =
        match query.status.as_deref() {
            None => None,
            Some(status) => Some(JobStatus::parse(status).ok_or_else(|| {
                FulfilmentError::InvalidQuery(format!("unknown status `{status}`"))
            })?),
        };
    let kind = match query.kind.as_deref() {
        None => None,
        Some(kind) => Some(
            JobKind::parse(kind)
                .ok_or_else(|| FulfilmentError::InvalidQuery(format!("unknown kind `{kind}`")))?,
        ),
    };
    let partner_id = match (only, query.partner_id) {
        (Some(own), Some(asked)) if asked != own => {
            let empty: Vec<JobView> = Vec::new();
            return Ok(private_json(StatusCode::OK, &Paged::new(empty, request, 0)));
        }
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let filter = JobFilter {
        status,
        kind,
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
) -> Result<(Job, Option<Uuid>), ApiError> {
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
    let entries = store::history(&state.db, job_id)
        .await
        .map_err(FulfilmentError::from)?;
    Ok(entries
        .iter()
        .map(|entry| {
            let mut item = HistoryItem::from(entry);
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
    responses((status = 200, body = JobView), AuthProblems, JobNotFound)
)]
#[get("/{id}", wrap = "Allow::only(READERS)")]
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

/// Every status the job went through: who held it, when, and why.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = [])),
    responses((status = 200, body = HistoryView), AuthProblems, JobNotFound)
)]
#[get("/{id}/history", wrap = "Allow::only(READERS)")]
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
    responses(
        (status = 200, body = JobView),
        AuthProblems,
        BodyProblems,
        JobNotFound,
        JobActionAnswers,
    )
)]
#[post("/{id}/assign", wrap = "Allow::only(ADMIN)")]
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
    responses((status = 200, body = JobView), AuthProblems, JobNotFound, JobActionAnswers)
)]
#[post("/{id}/requote", wrap = "Allow::only(ADMIN)")]
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
        if job.status != JobStatus::InspectionReported {
            return Err(FulfilmentError::IllegalTransition {
                current: job.status,
                action: "requote",
            });
        }
        Ok::<_, FulfilmentError>(store::requote_again(txn, job).await?)
    })
    .await?;
    Ok(private_json(StatusCode::OK, &JobView::from(&job)))
}
