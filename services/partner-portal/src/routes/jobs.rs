//! A partner's jobs and what it reports about them. A report touches only the portal's
//! database (the job row, its history, the `partner.events` outbox row), so it is accepted
//! while fulfilment is down; fulfilment applies it when it is back.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use events::partner as proto;
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::BodyProblems;
use platform::pagination::Paged;
use platform::sequencer::run_in_sequence;
use platform::validation::Violations;
use uuid::Uuid;

use super::answers::{JobActionAnswers, JobNotFound, PartnerAuthProblems};
use super::dto::{
    DeclineRequest, HistoryItem, InspectionReportRequest, JobQuery, JobView,
    MAX_DECLINE_REASON_CHARS, MAX_INSPECTION_ANSWERS, MAX_INSPECTION_NOTES_CHARS, PartnerJobQuery,
};
use super::{PortalState, page, partner_of, private_json};
use crate::domain::{JobKind, JobStatus, PortalJob};
use crate::error::PortalError;
use crate::published::Report;
use crate::store;

/// The jobs this partner holds, newest first.
#[utoipa::path(tag = "jobs", security(("bearer" = [])), params(PartnerJobQuery), responses((status = 200, body = Paged<JobView>, description = "A page of the caller's jobs, newest first, without their history"), PartnerAuthProblems))]
#[get("/v1/portal/jobs", wrap = "Allow::only(&[Role::Partner])")]
pub async fn list_jobs(
    principal: Principal,
    query: web::Query<PartnerJobQuery>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    jobs_page(&state, &query.into_inner().of(partner_id)).await
}

/// Jobs newest first, of `query.partner_id` or (`None`, admins) all, filtered by `query`.
pub(super) async fn jobs_page(
    state: &PortalState,
    query: &JobQuery,
) -> Result<HttpResponse, ApiError> {
    let request = page(query.page, query.per_page)?;
    let status = query
        .status
        .as_deref()
        .map(|status| {
            JobStatus::parse(status)
                .ok_or_else(|| PortalError::InvalidQuery(format!("unknown status `{status}`")))
        })
        .transpose()?;
    let kind = query
        .kind
        .as_deref()
        .map(|kind| {
            JobKind::parse(kind)
                .ok_or_else(|| PortalError::InvalidQuery(format!("unknown kind `{kind}`")))
        })
        .transpose()?;
    let (items, total) = store::jobs_page(
        &state.db,
        query.partner_id,
        status,
        kind,
        request.offset(),
        request.per_page,
    )
    .await
    .map_err(PortalError::from)?;
    let items: Vec<JobView> = items.iter().map(JobView::from).collect();
    Ok(private_json(
        StatusCode::OK,
        &Paged::new(items, request, total),
    ))
}

/// A job with its history, if `partner_id` (admins: `None`) may see it.
pub(super) async fn job_detail(
    state: &PortalState,
    partner_id: Option<Uuid>,
    id: Uuid,
) -> Result<HttpResponse, ApiError> {
    let job = match store::job(&state.db, id).await.map_err(PortalError::from)? {
        Some(job) if job.is_visible_to(partner_id) => job,
        _ => return Err(PortalError::JobNotFound(id).into()),
    };
    let history = store::history(&state.db, id)
        .await
        .map_err(PortalError::from)?;
    let mut view = JobView::from(&job);
    view.history = Some(history.iter().map(HistoryItem::from).collect());
    Ok(private_json(StatusCode::OK, &view))
}

fn held_by(job: Option<PortalJob>, id: Uuid, partner_id: Uuid) -> Result<PortalJob, PortalError> {
    match job {
        Some(job) if job.is_held_by(partner_id) => Ok(job),
        _ => Err(PortalError::JobNotFound(id)),
    }
}

/// One of this partner's jobs, with its history.
#[utoipa::path(tag = "jobs", security(("bearer" = [])), responses((status = 200, body = JobView, description = "The job with its `history`, oldest first"), PartnerAuthProblems, JobNotFound))]
#[get("/v1/portal/jobs/{id}", wrap = "Allow::only(&[Role::Partner])")]
pub async fn get_job(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    job_detail(&state, Some(partner_id), id.into_inner()).await
}

/// Records `report` on the partner's job under the order's lease (see [`store::report`]).
async fn act(
    principal: &Principal,
    state: &PortalState,
    id: Uuid,
    report: Report,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(principal, state).await?;
    let job = held_by(
        store::job(&state.db, id).await.map_err(PortalError::from)?,
        id,
        partner_id,
    )?;
    let action = report.action();
    let key = job.order_id.to_string();
    let job = run_in_sequence(state.sequencer.as_ref(), &key, |_| {
        store::report(&state.db, id, partner_id, report)
    })
    .await
    .map_err(PortalError::from)?
    .map_err(PortalError::from)?;
    tracing::info!(job_id = %job.id, %partner_id, action = action.as_str(), "partner reported");
    Ok(private_json(StatusCode::ACCEPTED, &JobView::from(&job)))
}

/// Accept an offered job.
#[utoipa::path(tag = "jobs", security(("bearer" = [])), responses((status = 202, body = JobView, description = "Recorded: the job as it is now; fulfilment is told through `partner.events`"), PartnerAuthProblems, JobNotFound, JobActionAnswers))]
#[post("/v1/portal/jobs/{id}/accept", wrap = "Allow::only(&[Role::Partner])")]
pub async fn accept(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    act(&principal, &state, id.into_inner(), Report::Accept).await
}

/// Decline an offered job; fulfilment offers it to another partner.
#[utoipa::path(tag = "jobs", security(("bearer" = [])), request_body = DeclineRequest, responses((status = 202, body = JobView, description = "Recorded: the job as it is now; fulfilment is told through `partner.events`"), PartnerAuthProblems, BodyProblems, JobNotFound, JobActionAnswers))]
#[post("/v1/portal/jobs/{id}/decline", wrap = "Allow::only(&[Role::Partner])")]
pub async fn decline(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<DeclineRequest>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let mut violations = Violations::default();
    violations.check(
        body.reason.chars().count() <= MAX_DECLINE_REASON_CHARS,
        "reason",
        format!("must be at most {MAX_DECLINE_REASON_CHARS} characters"),
    );
    violations.into_result(()).map_err(PortalError::from)?;
    let reason = body.into_inner().reason.trim().to_owned();
    act(
        &principal,
        &state,
        id.into_inner(),
        Report::Decline { reason },
    )
    .await
}

/// The device is with the partner (picked up from the shopper, or from the hub for a return).
#[utoipa::path(tag = "jobs", security(("bearer" = [])), responses((status = 202, body = JobView, description = "Recorded: the job as it is now; fulfilment is told through `partner.events`"), PartnerAuthProblems, JobNotFound, JobActionAnswers))]
#[post(
    "/v1/portal/jobs/{id}/picked-up",
    wrap = "Allow::only(&[Role::Partner])"
)]
pub async fn picked_up(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    act(&principal, &state, id.into_inner(), Report::PickedUp).await
}

/// The device arrived: at the hub (pickup) or back with the shopper (return).
#[utoipa::path(tag = "jobs", security(("bearer" = [])), responses((status = 202, body = JobView, description = "Recorded: the job as it is now; fulfilment is told through `partner.events`"), PartnerAuthProblems, JobNotFound, JobActionAnswers))]
#[post(
    "/v1/portal/jobs/{id}/delivered",
    wrap = "Allow::only(&[Role::Partner])"
)]
pub async fn delivered(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    act(&principal, &state, id.into_inner(), Report::Delivered).await
}

/// Report the inspection; fulfilment has quote re-price it.
#[utoipa::path(tag = "jobs", security(("bearer" = [])), request_body = InspectionReportRequest, responses((status = 202, body = JobView, description = "Recorded: the job as it is now; fulfilment is told through `partner.events`"), PartnerAuthProblems, BodyProblems, JobNotFound, JobActionAnswers))]
#[post(
    "/v1/portal/jobs/{id}/inspection-report",
    wrap = "Allow::only(&[Role::Partner])"
)]
pub async fn inspection_report(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<InspectionReportRequest>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut violations = Violations::default();
    violations.check(
        !body.answers.is_empty(),
        "answers",
        "must answer at least one question",
    );
    violations.check(
        body.answers.len() <= MAX_INSPECTION_ANSWERS,
        "answers",
        format!("at most {MAX_INSPECTION_ANSWERS} answers"),
    );
    let mut questions: Vec<Uuid> = body
        .answers
        .iter()
        .map(|answer| answer.question_id)
        .collect();
    questions.sort_unstable();
    let count = questions.len();
    questions.dedup();
    violations.check(
        questions.len() == count,
        "answers",
        "one answer per question",
    );
    violations.check(
        body.notes.chars().count() <= MAX_INSPECTION_NOTES_CHARS,
        "notes",
        format!("must be at most {MAX_INSPECTION_NOTES_CHARS} characters"),
    );
    violations.into_result(()).map_err(PortalError::from)?;
    let answers = body
        .answers
        .iter()
        .map(|answer| proto::Answer {
            question_id: answer.question_id.to_string(),
            option_id: answer.option_id.to_string(),
        })
        .collect();
    let report = Report::Inspection {
        answers,
        notes: body.notes.trim().to_owned(),
    };
    act(&principal, &state, id.into_inner(), report).await
}
