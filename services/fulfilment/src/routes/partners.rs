//! Partners: admins register and change them; a partner may read its own record.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use platform::ApiError;
use platform::auth::{Allow, Principal};
use platform::error::{AuthProblems, BodyProblems};
use platform::pagination::{PageQuery, Paged};
use platform::validation::{Violations, check_text};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::answers::{PartnerConflicts, PartnerNotFound};
use super::dto::{NewPartnerRequest, PartnerChangeRequest, PartnerView};
use super::{ADMIN, FulfilmentState, READERS, page, private_json, scope_of};
use crate::domain::{NewPartner, Partner, PartnerChange, PartnerKind, is_pincode};
use crate::error::FulfilmentError;
use crate::store::{self, PartnerFilter};

pub const MAX_PINCODES: usize = 500;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DAILY_CAPACITY: i64 = 1000;

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
            is_pincode(pincode),
            format!("pincodes[{index}]"),
            "must be six digits, not starting with 0",
        );
    }
}

fn check_capacity(violations: &mut Violations, capacity: i64) {
    violations.check(
        (1..=MAX_DAILY_CAPACITY).contains(&capacity),
        "daily_capacity",
        "must be between 1 and 1000",
    );
}

/// Register a partner; unassigned jobs it can take are offered to it at once.
#[utoipa::path(
    tag = "partners",
    security(("bearer" = [])),
    request_body = NewPartnerRequest,
    responses(
        (status = 201, body = PartnerView,
            headers(("Location" = String, description = "The partner's URL")),
            links(("GetPartner" = (operation_id = "get_partner", parameters(("id" = "$response.body#/id")), description = "The partner just registered")))),
        AuthProblems,
        BodyProblems,
    )
)]
#[post("/v1/admin/partners", wrap = "Allow::only(ADMIN)")]
pub async fn create_partner(
    principal: Principal,
    body: web::Json<NewPartnerRequest>,
    state: web::Data<FulfilmentState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let body = body.into_inner();
    let mut violations = Violations::default();
    check_text(&mut violations, "name", &body.name, MAX_NAME_CHARS);
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
            pincodes: body.pincodes,
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
    #[param(schema_with = platform::schema::names::<PartnerKind>)]
    pub kind: Option<String>,
    pub active: Option<bool>,
    #[param(pattern = "^[1-9][0-9]{5}$")]
    pub pincode: Option<String>,
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

/// Partners (a partner sees only itself).
#[utoipa::path(
    tag = "partners",
    security(("bearer" = [])),
    params(PartnerQuery),
    responses((status = 200, body = Paged<PartnerView>), AuthProblems)
)]
#[get("/v1/admin/partners", wrap = "Allow::only(READERS)")]
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
    let kind = match query.kind.as_deref() {
        None => None,
        Some(kind) => Some(PartnerKind::parse(kind).ok_or_else(|| {
            FulfilmentError::InvalidQuery("kind must be logistics or repair".into())
        })?),
    };
    if query
        .pincode
        .as_deref()
        .is_some_and(|pincode| !is_pincode(pincode))
    {
        return Err(FulfilmentError::InvalidQuery(
            "pincode must be six digits, not starting with 0".into(),
        )
        .into());
    }
    let filter = PartnerFilter {
        kind,
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
) -> Result<Partner, ApiError> {
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
    responses((status = 200, body = PartnerView), AuthProblems, PartnerNotFound)
)]
#[get("/v1/admin/partners/{id}", wrap = "Allow::only(READERS)")]
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
    responses(
        (status = 200, body = PartnerView),
        AuthProblems,
        BodyProblems,
        PartnerNotFound,
        PartnerConflicts,
    )
)]
#[patch("/v1/admin/partners/{id}", wrap = "Allow::only(ADMIN)")]
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
        check_text(&mut violations, "name", name, MAX_NAME_CHARS);
    }
    if let Some(pincodes) = &body.pincodes {
        check_pincodes(&mut violations, pincodes);
    }
    if let Some(capacity) = body.daily_capacity {
        check_capacity(&mut violations, capacity);
    }
    violations.into_result(()).map_err(FulfilmentError::from)?;
    let partner = store::partner(&state.db, id)
        .await
        .map_err(FulfilmentError::from)?
        .ok_or(FulfilmentError::PartnerNotFound(id))?;
    let change = PartnerChange {
        name: body.name.map(|name| name.trim().to_owned()),
        pincodes: body.pincodes,
        daily_capacity: body.daily_capacity,
        active: body.active,
    };
    let partner = store::update_partner(&state.db, &partner.changed(change, Utc::now()))
        .await
        .map_err(FulfilmentError::from)?;
    state.partners_changed.announce().await;
    Ok(private_json(StatusCode::OK, &PartnerView::from(&partner)))
}
