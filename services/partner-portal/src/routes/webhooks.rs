//! A partner's webhooks and their delivery log. The secret is shown once, at registration
//! or rotation; the portal keeps it to sign deliveries.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, delete, get, post, web};
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::{BodyProblems, Problem};
use platform::pagination::{MAX_PER_PAGE, Paged};
use uuid::Uuid;

use super::answers::{DeliveryNotFound, PartnerAuthProblems, WebhookNotFound, WebhookUrlProblems};
use super::dto::{
    AttemptView, DeliveryQuery, DeliveryView, NewWebhookRequest, PartnerDeliveryQuery,
    WebhookPageQuery, WebhookView,
};
use super::{PortalState, page, partner_of, private_json};
use crate::domain::webhook::check_url;
use crate::domain::{Delivery, DeliveryStatus, Webhook};
use crate::error::PortalError;
use crate::store;

fn new_secret() -> String {
    format!(
        "whsec_{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

/// Register a webhook; the answer holds its signing secret, shown only this once.
///
/// There is no `GET` of one webhook: its URL (`Location`) is where it is removed
/// (`DELETE`) and, under `/rotate-secret`, where its secret is replaced.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    request_body = NewWebhookRequest,
    responses(
        (status = 201, body = WebhookView, description = "Registered; `secret` is shown only in this answer",
            headers(("Location" = String, description = "The webhook's URL, `/v1/portal/webhooks/{id}`")),
            links(
                ("DeleteWebhook" = (operation_id = "delete_webhook", parameters(("id" = "$response.body#/id")), description = "Remove the webhook just registered")),
                ("RotateSecret" = (operation_id = "rotate_secret", parameters(("id" = "$response.body#/id")), description = "Replace its secret")),
            )),
        PartnerAuthProblems,
        BodyProblems,
        WebhookUrlProblems,
    )
)]
#[post("/v1/portal/webhooks", wrap = "Allow::only(&[Role::Partner])")]
pub async fn create_webhook(
    principal: Principal,
    body: web::Json<NewWebhookRequest>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    let url = check_url(body.url.trim(), state.settings.webhooks.target_policy())
        .map_err(PortalError::UrlRefused)?;
    let hook = store::create_webhook(&state.db, partner_id, url.to_string(), new_secret())
        .await
        .map_err(PortalError::from)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/portal/webhooks/{}", hook.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WebhookView::of(&hook, true)))
}

/// This partner's webhooks (without secrets), 100 a page unless asked otherwise.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), params(WebhookPageQuery), responses((status = 200, body = Paged<WebhookView>), (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_query_parameter`: page 1–10000, per_page 1–100"), PartnerAuthProblems))]
#[get("/v1/portal/webhooks", wrap = "Allow::only(&[Role::Partner])")]
pub async fn list_webhooks(
    principal: Principal,
    paging: web::Query<WebhookPageQuery>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    // Pageable like every list; the default stays the one page of 100 it always answered.
    let request = page(paging.page, paging.per_page.or(Some(MAX_PER_PAGE)))?;
    let (items, total) =
        store::active_webhooks_page(&state.db, partner_id, request.offset(), request.per_page)
            .await
            .map_err(PortalError::from)?;
    let items: Vec<WebhookView> = items
        .iter()
        .map(|hook| WebhookView::of(hook, false))
        .collect();
    Ok(private_json(
        StatusCode::OK,
        &Paged::new(items, request, total),
    ))
}

async fn own_webhook(
    state: &PortalState,
    partner_id: Uuid,
    id: Uuid,
) -> Result<Webhook, PortalError> {
    match store::webhook(&state.db, id).await? {
        Some(hook) if hook.is_active_for(partner_id) => Ok(hook),
        _ => Err(PortalError::WebhookNotFound(id)),
    }
}

/// Remove a webhook; its pending deliveries fail rather than go anywhere.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), responses((status = 204, description = "Removed"), PartnerAuthProblems, WebhookNotFound))]
#[delete("/v1/portal/webhooks/{id}", wrap = "Allow::only(&[Role::Partner])")]
pub async fn delete_webhook(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    let hook = own_webhook(&state, partner_id, id.into_inner()).await?;
    store::deactivate_webhook(&state.db, hook)
        .await
        .map_err(PortalError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace a webhook's secret; the new one is shown only in this answer.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), responses((status = 200, body = WebhookView, description = "The webhook with its new `secret`, shown only in this answer"), PartnerAuthProblems, WebhookNotFound))]
#[post(
    "/v1/portal/webhooks/{id}/rotate-secret",
    wrap = "Allow::only(&[Role::Partner])"
)]
pub async fn rotate_secret(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    let hook = own_webhook(&state, partner_id, id.into_inner()).await?;
    let hook = store::replace_webhook_secret(&state.db, hook, new_secret())
        .await
        .map_err(PortalError::from)?;
    Ok(private_json(StatusCode::OK, &WebhookView::of(&hook, true)))
}

/// Deliveries newest first, of `query.partner_id` or (`None`, admins) all.
pub(super) async fn deliveries(
    state: &PortalState,
    query: &DeliveryQuery,
) -> Result<HttpResponse, ApiError> {
    let request = page(query.page, query.per_page)?;
    let status = query
        .status
        .as_deref()
        .map(|status| {
            DeliveryStatus::parse(status)
                .ok_or_else(|| PortalError::InvalidQuery(format!("unknown status `{status}`")))
        })
        .transpose()?;
    let (items, total) = store::deliveries_page(
        &state.db,
        query.partner_id,
        status,
        request.offset(),
        request.per_page,
    )
    .await
    .map_err(PortalError::from)?;
    let items: Vec<DeliveryView> = items.iter().map(DeliveryView::from).collect();
    Ok(private_json(
        StatusCode::OK,
        &Paged::new(items, request, total),
    ))
}

/// A delivery visible to `partner_id` (`None`: an admin sees all).
pub(super) async fn delivery(
    state: &PortalState,
    partner_id: Option<Uuid>,
    id: Uuid,
) -> Result<Delivery, PortalError> {
    match store::delivery(&state.db, id).await? {
        Some(row) if row.is_visible_to(partner_id) => Ok(row),
        _ => Err(PortalError::DeliveryNotFound(id)),
    }
}

/// Sends a delivery again, now, whatever happened to it before; the log keeps every attempt.
pub(super) async fn send_again(
    state: &PortalState,
    row: Delivery,
) -> Result<HttpResponse, ApiError> {
    let row = store::send_again(&state.db, row)
        .await
        .map_err(PortalError::from)?;
    state.deliveries.wake();
    Ok(private_json(
        StatusCode::ACCEPTED,
        &DeliveryView::from(&row),
    ))
}

/// This partner's webhook deliveries.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), params(PartnerDeliveryQuery), responses((status = 200, body = Paged<DeliveryView>, description = "A page of deliveries, newest first, without their attempts"), PartnerAuthProblems))]
#[get(
    "/v1/portal/webhooks/deliveries",
    wrap = "Allow::only(&[Role::Partner])"
)]
pub async fn list_deliveries(
    principal: Principal,
    query: web::Query<PartnerDeliveryQuery>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    deliveries(&state, &query.into_inner().of(partner_id)).await
}

/// One delivery with every attempt.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), responses((status = 200, body = DeliveryView, description = "The delivery with every `attempts[]`"), PartnerAuthProblems, DeliveryNotFound))]
#[get(
    "/v1/portal/webhooks/deliveries/{id}",
    wrap = "Allow::only(&[Role::Partner])"
)]
pub async fn get_delivery(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    let row = delivery(&state, Some(partner_id), id.into_inner()).await?;
    let attempts = store::attempts(&state.db, row.id)
        .await
        .map_err(PortalError::from)?;
    let mut view = DeliveryView::from(&row);
    view.attempts = Some(attempts.iter().map(AttemptView::from).collect());
    Ok(private_json(StatusCode::OK, &view))
}

/// Deliver again.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), responses((status = 202, body = DeliveryView, description = "Pending again, due now; the attempt log keeps every earlier attempt"), PartnerAuthProblems, DeliveryNotFound))]
#[post(
    "/v1/portal/webhooks/deliveries/{id}/redeliver",
    wrap = "Allow::only(&[Role::Partner])"
)]
pub async fn redeliver(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<PortalState>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = partner_of(&principal, &state).await?;
    let row = delivery(&state, Some(partner_id), id.into_inner()).await?;
    send_again(&state, row).await
}
