//! Admins manage partner users and issue their tokens, and see every webhook delivery.

use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::{AuthProblems, BodyProblems};
use platform::pagination::Paged;
use platform::validation::{Violations, check_text};
use uuid::Uuid;

use super::answers::{
    DeliveryNotFound, JobNotFound, TokenConflicts, UserCreateConflicts, UserNotFound,
};
use super::dto::{
    AttemptView, DeliveryQuery, DeliveryView, JobQuery, JobView, NewUserRequest, TokenView,
    UserChangeRequest, UserQuery, UserView,
};
use super::jobs::{job_detail, jobs_page};
use super::webhooks::{deliveries, delivery, send_again};
use super::{PortalState, page, private_json};
use crate::domain::user::{MAX_EMAIL_CHARS, MAX_NAME_CHARS, is_email_address};
use crate::domain::{NewUser, PortalUser};
use crate::error::PortalError;
use crate::store;

const ADMIN: &[Role] = &[Role::Admin];

/// Create a partner user.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewUserRequest,
    responses(
        (status = 201, body = UserView, description = "Created, active",
            headers(("Location" = String, description = "The user's URL, `/v1/portal/admin/users/{id}`")),
            links(
                ("GetUser" = (operation_id = "get_user", parameters(("id" = "$response.body#/id")), description = "The user just created")),
                ("IssueToken" = (operation_id = "issue_token", parameters(("id" = "$response.body#/id")), description = "Issue the user a token")),
            )),
        AuthProblems,
        BodyProblems,
        UserCreateConflicts,
    )
)]
#[post("/users", wrap = "Allow::only(ADMIN)")]
pub async fn create_user(
    principal: Principal,
    body: web::Json<NewUserRequest>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let body = body.into_inner();
    let email = body.email.trim().to_lowercase();
    let mut violations = Violations::default();
    violations.check(
        is_email_address(&email) && body.email.chars().count() <= MAX_EMAIL_CHARS,
        "email",
        "must be an email address",
    );
    check_text(&mut violations, "name", &body.name, MAX_NAME_CHARS);
    violations.into_result(()).map_err(PortalError::from)?;
    let user = store::create_user(
        &state.db,
        NewUser {
            partner_id: body.partner_id,
            email,
            name: body.name.trim().to_owned(),
        },
    )
    .await
    .map_err(PortalError::from)?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/portal/admin/users/{}", user.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UserView::from(&user)))
}

/// Partner users.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(UserQuery), responses((status = 200, body = Paged<UserView>, description = "A page of users, by email"), AuthProblems))]
#[get("/users", wrap = "Allow::only(ADMIN)")]
pub async fn list_users(
    principal: Principal,
    query: web::Query<UserQuery>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let request = page(query.page, query.per_page)?;
    let (items, total) = store::users_page(
        &state.db,
        query.partner_id,
        request.offset(),
        request.per_page,
    )
    .await
    .map_err(PortalError::from)?;
    let items: Vec<UserView> = items.iter().map(UserView::from).collect();
    Ok(private_json(
        StatusCode::OK,
        &Paged::new(items, request, total),
    ))
}

async fn user(state: &PortalState, id: Uuid) -> Result<PortalUser, PortalError> {
    store::user(&state.db, id)
        .await?
        .ok_or(PortalError::UserNotFound(id))
}

/// One partner user.
#[utoipa::path(tag = "admin", security(("bearer" = [])), responses((status = 200, body = UserView), AuthProblems, UserNotFound))]
#[get("/users/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn get_user(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let user = user(&state, id.into_inner()).await?;
    Ok(private_json(StatusCode::OK, &UserView::from(&user)))
}

/// Rename, disable or re-enable a partner user.
#[utoipa::path(tag = "admin", security(("bearer" = [])), request_body = UserChangeRequest, responses((status = 200, body = UserView, description = "The user as changed"), AuthProblems, BodyProblems, UserNotFound))]
#[patch("/users/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn update_user(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UserChangeRequest>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let body = body.into_inner();
    let mut violations = Violations::default();
    if let Some(name) = &body.name {
        check_text(&mut violations, "name", name, MAX_NAME_CHARS);
    }
    violations.into_result(()).map_err(PortalError::from)?;
    let current = user(&state, id.into_inner()).await?;
    let name = body.name.map(|name| name.trim().to_owned());
    let was_active = current.active;
    let user = store::change_user(&state.db, current, name, body.active)
        .await
        .map_err(PortalError::from)?;
    if user.active != was_active
        && let Some(revocations) = state.authenticator.revocations()
        && let Err(error) = crate::revocations::tell_services(revocations, &user).await
    {
        // The portal refuses the user from its database already; the teller's next round
        // tells the other services.
        tracing::warn!(%error, "other services will learn of it in the next round");
    }
    Ok(private_json(StatusCode::OK, &UserView::from(&user)))
}

/// Issue a bearer token for a partner user (role `partner`, its `partner_id`).
#[utoipa::path(tag = "admin", security(("bearer" = [])), responses((status = 201, body = TokenView, description = "Issued; the token is not kept, so it has no URL of its own"), AuthProblems, UserNotFound, TokenConflicts))]
#[post("/users/{id}/tokens", wrap = "Allow::only(ADMIN)")]
pub async fn issue_token(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let user = user(&state, id.into_inner()).await?;
    if !user.active {
        return Err(PortalError::UserInactive(user.id).into());
    }
    let ttl = Duration::from_secs(state.settings.user_token_ttl_seconds);
    let token = state.authenticator.issue(
        &user.id.to_string(),
        Role::Partner,
        Some(user.partner_id),
        ttl,
    )?;
    let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
    Ok(private_json(
        StatusCode::CREATED,
        &TokenView { token, expires_at },
    ))
}

/// Every partner's webhook deliveries.
#[utoipa::path(tag = "admin", operation_id = "admin_list_deliveries", security(("bearer" = [])), params(DeliveryQuery), responses((status = 200, body = Paged<DeliveryView>, description = "A page of deliveries, newest first, without their attempts"), AuthProblems))]
#[get("/webhooks/deliveries", wrap = "Allow::only(ADMIN)")]
pub async fn list_deliveries(
    principal: Principal,
    query: web::Query<DeliveryQuery>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    deliveries(&state, &query).await
}

/// Deliver again, for any partner.
#[utoipa::path(tag = "admin", operation_id = "admin_redeliver", security(("bearer" = [])), responses((status = 202, body = DeliveryView, description = "Pending again, due now; the attempt log keeps every earlier attempt"), AuthProblems, DeliveryNotFound))]
#[post("/webhooks/deliveries/{id}/redeliver", wrap = "Allow::only(ADMIN)")]
pub async fn redeliver(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let row = delivery(&state, None, id.into_inner()).await?;
    send_again(&state, row).await
}

/// One delivery of any partner, with every attempt.
#[utoipa::path(tag = "admin", operation_id = "admin_get_delivery", security(("bearer" = [])), responses((status = 200, body = DeliveryView, description = "The delivery with every `attempts[]`"), AuthProblems, DeliveryNotFound))]
#[get("/webhooks/deliveries/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn get_delivery(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let row = delivery(&state, None, id.into_inner()).await?;
    let attempts = store::attempts(&state.db, row.id)
        .await
        .map_err(PortalError::from)?;
    let mut view = DeliveryView::from(&row);
    view.attempts = Some(attempts.iter().map(AttemptView::from).collect());
    Ok(private_json(StatusCode::OK, &view))
}

/// Every partner's jobs as the portal sees them (filter `partner_id`, `status`, `kind`).
#[utoipa::path(tag = "admin", operation_id = "admin_list_jobs", security(("bearer" = [])), params(JobQuery), responses((status = 200, body = Paged<JobView>, description = "A page of jobs, newest first, without their history"), AuthProblems))]
#[get("/jobs", wrap = "Allow::only(ADMIN)")]
pub async fn list_jobs(
    principal: Principal,
    query: web::Query<JobQuery>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    jobs_page(&state, &query).await
}

/// One job with its history, whoever holds it.
#[utoipa::path(tag = "admin", operation_id = "admin_get_job", security(("bearer" = [])), responses((status = 200, body = JobView, description = "The job with its `history`, oldest first"), AuthProblems, JobNotFound))]
#[get("/jobs/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn get_job(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    job_detail(&state, None, id.into_inner()).await
}
