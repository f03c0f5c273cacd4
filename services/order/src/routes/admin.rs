//! The back office: search every order, find the stuck ones, cancel when a person must.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, Utc};
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::{AuthProblems, BodyProblems};
use platform::pagination::{PageQuery, Paged};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::answers::{AdminOrderNotFound, CancelConflicts, SearchProblems, Sequenced};
use super::dto::{AdminCancelRequest, OrderView};
use super::orders::decide;
use super::{OrderState, page_of};
use crate::domain::{Actor, OrderStatus, Step, Violations, is_pincode};
use crate::error::OrderError;
use crate::store::OrderFilter;

const ADMIN: &[Role] = &[Role::Admin];
/// An admin's reason for cancelling, trimmed.
pub const MAX_REASON_CHARS: usize = 500;
/// Ten years: an order unchanged for longer is not stuck but forgotten, and larger values
/// reach back past any date PostgreSQL holds (a 500, not an answer).
pub const MAX_STUCK_FOR_MINUTES: u32 = 10 * 366 * 24 * 60;
/// RFC 3339 years have four digits; chrono reads more (and negative ones), which
/// PostgreSQL cannot compare against (4713 BC onwards) and no order was placed in.
const SEARCHABLE_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminSearch {
    /// Only orders in this status.
    #[param(schema_with = platform::schema::names::<OrderStatus>)]
    pub status: Option<OrderStatus>,
    /// Pickup pincode: six digits, not starting with 0.
    #[param(pattern = "^[1-9][0-9]{5}$")]
    pub pincode: Option<String>,
    /// Placed at or after (RFC 3339, years 0001–9999).
    pub created_from: Option<DateTime<Utc>>,
    /// Placed before (RFC 3339, years 0001–9999).
    pub created_to: Option<DateTime<Utc>>,
    /// Stuck orders: not final, and in their current state for longer than this (at most
    /// ten years).
    #[param(minimum = 1, maximum = 5270400)]
    pub stuck_for_minutes: Option<u32>,
}

/// Search all orders, newest first; `stuck_for_minutes` lists the stuck ones.
#[utoipa::path(
    tag = "admin orders",
    security(("bearer" = [])),
    params(AdminSearch, PageQuery),
    responses(
        (status = 200, body = Paged<OrderView>),
        AuthProblems,
        SearchProblems,
    )
)]
#[get("", wrap = "Allow::only(ADMIN)")]
pub async fn search_orders(
    principal: Principal,
    search: web::Query<AdminSearch>,
    paging: web::Query<PageQuery>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let page = page_of(&paging)?;
    if let Some(pincode) = &search.pincode
        && !is_pincode(pincode)
    {
        return Err(OrderError::InvalidQuery("pincode must be six digits".into()).into());
    }
    if let (Some(from), Some(to)) = (search.created_from, search.created_to)
        && from > to
    {
        return Err(
            OrderError::InvalidQuery("created_from must not be after created_to".into()).into(),
        );
    }
    for (name, at) in [
        ("created_from", search.created_from),
        ("created_to", search.created_to),
    ] {
        if at.is_some_and(|at| !SEARCHABLE_YEARS.contains(&at.year())) {
            return Err(OrderError::InvalidQuery(format!(
                "{name} must be a time in the years 0001 to 9999"
            ))
            .into());
        }
    }
    if search
        .stuck_for_minutes
        .is_some_and(|minutes| !(1..=MAX_STUCK_FOR_MINUTES).contains(&minutes))
    {
        return Err(OrderError::InvalidQuery(format!(
            "stuck_for_minutes must be between 1 and {MAX_STUCK_FOR_MINUTES} (ten years)"
        ))
        .into());
    }
    let filter = OrderFilter {
        shopper_id: None,
        status: search.status,
        pincode: search.pincode.clone(),
        created_from: search.created_from,
        created_to: search.created_to,
        unchanged_since: search
            .stuck_for_minutes
            .map(|minutes| Utc::now() - chrono::Duration::minutes(i64::from(minutes))),
    };
    let (orders, total) = state
        .store
        .list(&filter, page)
        .await
        .map_err(OrderError::from)?;
    let items = orders
        .iter()
        .map(|order| OrderView::of(order, true))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Paged::new(items, page, total)))
}

/// One order, with the processor's view of it.
#[utoipa::path(
    tag = "admin orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = OrderView),
        AuthProblems,
        AdminOrderNotFound,
    )
)]
#[get("/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn admin_get_order(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let order = state.store.get(*id).await.map_err(OrderError::from)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(OrderView::of(&order, true)))
}

/// Cancel an order on someone's behalf, before pickup, with a reason.
#[utoipa::path(
    tag = "admin orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = AdminCancelRequest,
    responses(
        (status = 200, body = OrderView),
        AuthProblems,
        BodyProblems,
        AdminOrderNotFound,
        CancelConflicts,
        Sequenced,
    )
)]
#[post("/{id}/cancel", wrap = "Allow::only(ADMIN)")]
pub async fn admin_cancel_order(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<AdminCancelRequest>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let mut violations = Violations::default();
    platform::validation::check_text(&mut violations, "reason", &body.reason, MAX_REASON_CHARS);
    violations.into_result(()).map_err(OrderError::from)?;
    let step = Step::Cancel {
        by: Actor::Admin,
        reason: body.reason.trim().to_owned(),
    };
    decide(&state, &principal, *id, step).await
}
