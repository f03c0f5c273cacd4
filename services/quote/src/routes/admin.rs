//! Back-office pricing: percentage adjustments per category or brand, in a time window.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, delete, get, post, web};
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::{AuthProblems, BodyProblems, Problem};
use uuid::Uuid;

use super::dto::{AdjustmentDto, NewAdjustmentRequest, Paged};
use super::{QuoteState, page, private_json};
use crate::clock;
use crate::domain::AdjustmentDraft;
use crate::error::QuoteError;
use platform::pagination::PageQuery;

const ADMIN: &[Role] = &[Role::Admin];

/// Create an adjustment; it applies to quotes issued inside its window.
#[utoipa::path(
    tag = "admin pricing",
    security(("bearer" = [])),
    request_body = NewAdjustmentRequest,
    responses(
        (status = 201, body = AdjustmentDto,
            headers(("Location" = String, description = "The adjustment's URL")),
            links(("GetAdjustment" = (operation_id = "get_adjustment", parameters(("id" = "$response.body#/id")), description = "The adjustment just created")))),
        AuthProblems,
        BodyProblems,
    )
)]
#[post("/v1/admin/pricing/adjustments", wrap = "Allow::only(ADMIN)")]
pub async fn create_adjustment(
    principal: Principal,
    body: web::Json<NewAdjustmentRequest>,
    state: web::Data<QuoteState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let draft = AdjustmentDraft::parse(
        &body.scope,
        &body.value,
        body.percent_basis_points,
        &body.label,
        body.starts_at,
        body.ends_at,
    )
    .map_err(QuoteError::from)?;
    let adjustment = state
        .store
        .insert_adjustment(Uuid::now_v7(), draft)
        .await
        .map_err(QuoteError::from)?;
    tracing::info!(adjustment_id = %adjustment.id, admin = %principal.subject, "pricing adjustment created");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/admin/pricing/adjustments/{}", adjustment.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AdjustmentDto::new(&adjustment, clock::now())))
}

/// Every adjustment, past, current and future, newest first.
#[utoipa::path(
    tag = "admin pricing",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Paged<AdjustmentDto>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    )
)]
#[get("/v1/admin/pricing/adjustments", wrap = "Allow::only(ADMIN)")]
pub async fn list_adjustments(
    principal: Principal,
    paging: web::Query<PageQuery>,
    state: web::Data<QuoteState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let page = page(&paging)?;
    let found = state
        .store
        .adjustments(page)
        .await
        .map_err(QuoteError::from)?;
    let now = clock::now();
    Ok(private_json(
        StatusCode::OK,
        &Paged::new(
            found
                .items
                .iter()
                .map(|adjustment| AdjustmentDto::new(adjustment, now))
                .collect(),
            page,
            found.total,
        ),
    ))
}

#[utoipa::path(
    tag = "admin pricing",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AdjustmentDto),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`adjustment_not_found`"),
    )
)]
#[get("/v1/admin/pricing/adjustments/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn get_adjustment(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<QuoteState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let id = id.into_inner();
    let adjustment = state
        .store
        .adjustment(id)
        .await
        .map_err(QuoteError::from)?
        .ok_or(QuoteError::AdjustmentNotFound(id))?;
    Ok(private_json(
        StatusCode::OK,
        &AdjustmentDto::new(&adjustment, clock::now()),
    ))
}

/// Delete an adjustment: quotes issued from now on no longer get it (issued quotes keep
/// their price).
#[utoipa::path(
    tag = "admin pricing",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`adjustment_not_found`"),
    )
)]
#[delete("/v1/admin/pricing/adjustments/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn delete_adjustment(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<QuoteState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let id = id.into_inner();
    if !state
        .store
        .delete_adjustment(id)
        .await
        .map_err(QuoteError::from)?
    {
        return Err(QuoteError::AdjustmentNotFound(id).into());
    }
    tracing::info!(adjustment_id = %id, admin = %principal.subject, "pricing adjustment deleted");
    Ok(HttpResponse::NoContent().finish())
}
