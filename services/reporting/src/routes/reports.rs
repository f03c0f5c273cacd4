//! The reports. Each reads the projection only; JSON for screens, CSV for spreadsheets.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use chrono::{Duration, Utc};
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::AuthProblems;
use serde::Deserialize;
use utoipa::IntoParams;

use super::RangeProblems;
use super::ReportingState;
use super::dto::{
    DayView, DaysView, PartnerView, PartnersView, SummaryView, days_as_csv, partners_as_csv,
};
use crate::domain::{MAX_STUCK_AFTER_MINUTES, RangeQuery, ReportRange};
use crate::error::ReportingError;
use crate::store;

const ADMIN: &[Role] = &[Role::Admin];

fn range_of(query: &RangeQuery, state: &ReportingState) -> Result<ReportRange, ReportingError> {
    let today = Utc::now().date_naive();
    Ok(ReportRange::of(
        query,
        today,
        state.settings.default_range_days,
    )?)
}

fn private(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn csv_file(name: &str, range: ReportRange, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{name}-{}-{}.csv\"",
                range.from, range.to
            ),
        ))
        .body(body)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StuckQuery {
    /// Count an open order as stuck once unchanged for longer than this; default
    /// `reporting.stuck_after_minutes` (60).
    #[param(minimum = 1, maximum = 5270400)]
    pub stuck_after_minutes: Option<u32>,
}

/// The business over a range: quotes and conversion, orders by status, payouts and time to
/// payout, quoted against final prices, time in each status, stuck orders.
///
/// `from` must not be after `to`, and a report covers at most 366 days (400 otherwise).
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(RangeQuery, StuckQuery),
    responses((status = 200, body = SummaryView), AuthProblems, RangeProblems)
)]
#[get("/summary", wrap = "Allow::only(ADMIN)")]
pub async fn report_summary(
    principal: Principal,
    range: web::Query<RangeQuery>,
    stuck: web::Query<StuckQuery>,
    state: web::Data<ReportingState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let range = range_of(&range, &state)?;
    let minutes = stuck
        .stuck_after_minutes
        .unwrap_or(state.settings.stuck_after_minutes);
    if !(1..=MAX_STUCK_AFTER_MINUTES).contains(&minutes) {
        return Err(ReportingError::InvalidQuery(format!(
            "stuck_after_minutes must be between 1 and {MAX_STUCK_AFTER_MINUTES}"
        ))
        .into());
    }
    let stuck_since = Utc::now() - Duration::minutes(i64::from(minutes));
    let summary = store::reports::summary(&state.db, range, stuck_since)
        .await
        .map_err(ReportingError::from)?;
    Ok(private(SummaryView::new(
        (range.from, range.to),
        &summary,
        minutes,
    )))
}

async fn days(
    query: &RangeQuery,
    state: &ReportingState,
) -> Result<(ReportRange, Vec<crate::domain::figures::Day>), ApiError> {
    let range = range_of(query, state)?;
    let days = store::reports::days(&state.db, range)
        .await
        .map_err(ReportingError::from)?;
    Ok((range, days))
}

/// Per day: quotes issued, orders placed, and those orders by the status they are in now.
///
/// `from` must not be after `to`, and a report covers at most 366 days (400 otherwise).
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(RangeQuery),
    responses((status = 200, body = DaysView), AuthProblems, RangeProblems)
)]
#[get("/daily", wrap = "Allow::only(ADMIN)")]
pub async fn report_daily(
    principal: Principal,
    query: web::Query<RangeQuery>,
    state: web::Data<ReportingState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let (range, days) = days(&query, &state).await?;
    Ok(private(DaysView {
        from: range.from,
        to: range.to,
        items: days.iter().map(DayView::from).collect(),
    }))
}

/// The daily report as CSV: `day,quotes_issued,orders_placed` and a column per status.
///
/// `from` must not be after `to`, and a report covers at most 366 days (400 otherwise).
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(RangeQuery),
    responses(
        (status = 200, content_type = "text/csv", body = String,
            description = "A header line, then a line per day, first to last"),
        AuthProblems,
        RangeProblems
    )
)]
#[get("/daily.csv", wrap = "Allow::only(ADMIN)")]
pub async fn report_daily_csv(
    principal: Principal,
    query: web::Query<RangeQuery>,
    state: web::Data<ReportingState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let (range, days) = days(&query, &state).await?;
    Ok(csv_file("daily", range, days_as_csv(&days)))
}

async fn partner_figures(
    query: &RangeQuery,
    state: &ReportingState,
) -> Result<(ReportRange, Vec<crate::domain::figures::PartnerFigures>), ApiError> {
    let range = range_of(query, state)?;
    let partners = store::reports::partners(&state.db, range)
        .await
        .map_err(ReportingError::from)?;
    Ok((range, partners))
}

/// Per partner: offers made in the range and its answers, pickups due in the range and how
/// many were on time.
///
/// `from` must not be after `to`, and a report covers at most 366 days (400 otherwise).
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(RangeQuery),
    responses((status = 200, body = PartnersView), AuthProblems, RangeProblems)
)]
#[get("/partners", wrap = "Allow::only(ADMIN)")]
pub async fn report_partners(
    principal: Principal,
    query: web::Query<RangeQuery>,
    state: web::Data<ReportingState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let (range, partners) = partner_figures(&query, &state).await?;
    Ok(private(PartnersView {
        from: range.from,
        to: range.to,
        items: partners.iter().map(PartnerView::from).collect(),
    }))
}

/// The partners report as CSV, a line per partner.
///
/// `from` must not be after `to`, and a report covers at most 366 days (400 otherwise).
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(RangeQuery),
    responses(
        (status = 200, content_type = "text/csv", body = String,
            description = "A header line, then a line per partner"),
        AuthProblems,
        RangeProblems
    )
)]
#[get("/partners.csv", wrap = "Allow::only(ADMIN)")]
pub async fn report_partners_csv(
    principal: Principal,
    query: web::Query<RangeQuery>,
    state: web::Data<ReportingState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let (range, partners) = partner_figures(&query, &state).await?;
    Ok(csv_file("partners", range, partners_as_csv(&partners)))
}
