//! The shopper's side: place an order, follow it, and the few decisions that are theirs.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::{AuthProblems, BodyProblems};
use platform::pagination::{PageQuery, Paged};
use platform::sequencer::run_in_sequence;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;
use uuid::Uuid;

use super::answers::{
    CancelConflicts, OrderNotFound, PlaceOrderAnswers, RevisedPriceConflicts, Sequenced,
};
use super::dto::{OrderAccepted, OrderView, PlaceOrderRequest, Timeline, TimelineItem};
use super::{OrderState, page_of, visible_to};
use crate::domain::NewOrder;
use crate::domain::{Actor, OrderStatus, PayoutInstructions, PickupRequest, Step, Violations};
use crate::error::OrderError;
use crate::store::{Acceptance, IdempotencyKey, OrderFilter, today};

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The longest `Idempotency-Key`, in bytes (visible ASCII: one byte a character).
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
/// Set on a response replayed for a repeated Idempotency-Key.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
const SHOPPER: &[Role] = &[Role::Shopper];
const SHOPPER_OR_ADMIN: &[Role] = &[Role::Shopper, Role::Admin];

fn idempotency_key(request: &HttpRequest) -> Result<String, OrderError> {
    let value = request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .ok_or(OrderError::IdempotencyKeyMissing)?;
    let key = value
        .to_str()
        .map_err(|_| OrderError::IdempotencyKeyInvalid)?;
    // What the document's pattern says: `^[!-~]{1,255}$`.
    let valid = (1..=MAX_IDEMPOTENCY_KEY_BYTES).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(key.to_owned())
    } else {
        Err(OrderError::IdempotencyKeyInvalid)
    }
}

fn validate(body: &PlaceOrderRequest, shopper_id: &str) -> Result<NewOrder, OrderError> {
    let pickup = PickupRequest::parse(
        &body.pickup.address,
        &body.pickup.pincode,
        body.pickup.slot.date,
        &body.pickup.slot.window,
        today(),
    );
    let payout = PayoutInstructions::parse(&body.payout.method, body.payout.details.clone());
    match (pickup, payout) {
        (Ok(pickup), Ok(payout)) => Ok(NewOrder {
            id: Uuid::now_v7(),
            shopper_id: shopper_id.to_owned(),
            quote_id: body.quote_id,
            pickup,
            payout,
        }),
        (pickup, payout) => {
            let mut violations = Violations::default();
            violations
                .0
                .extend(pickup.err().into_iter().flat_map(|v| v.0));
            violations
                .0
                .extend(payout.err().into_iter().flat_map(|v| v.0));
            Err(violations.into())
        }
    }
}

fn accepted(order_id: Uuid, body: String, replayed: bool) -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::ACCEPTED);
    response
        .insert_header((header::LOCATION, format!("/v1/orders/{order_id}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json");
    if replayed {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    response.body(body)
}

/// Place an order for a quote. Answers 202 at once: the order is stored with its
/// `OrderPlaced` event and confirmed (or rejected) asynchronously. A repeated
/// `Idempotency-Key` with the same body gets the first response again; with another body,
/// 422.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = String, Header, pattern = "^[!-~]{1,255}$",
        description = "Required: 1 to 255 visible ASCII characters, one key per intended order. \
            The same key with the same body answers the first 202 again; with another body, \
            422 `idempotency_key_reused`. Keys are the caller's own, kept 24 hours by default.")),
    responses(
        (status = 202, body = OrderAccepted,
            description = "Accepted: stored with its `OrderPlaced` event, to be confirmed or rejected",
            headers(
                ("Location" = String, description = "The order's URL, `/v1/orders/{id}`"),
                ("Idempotent-Replayed" = String, description = "`true` when this is the first answer to this key again"),
            ),
            links(
                ("GetOrder" = (operation_id = "get_order", parameters(("id" = "$response.body#/id")), description = "The order just placed")),
                ("GetTimeline" = (operation_id = "get_timeline", parameters(("id" = "$response.body#/id")), description = "Its steps so far")),
            )),
        AuthProblems,
        BodyProblems,
        // After `BodyProblems`: its 400 and 422, with this route's codes added.
        PlaceOrderAnswers,
    )
)]
#[post("/v1/orders", wrap = "Allow::only(SHOPPER)")]
pub async fn place_order(
    principal: Principal,
    request: HttpRequest,
    body: web::Json<PlaceOrderRequest>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SHOPPER)?;
    let key = idempotency_key(&request)?;
    let body = body.into_inner();
    let order = validate(&body, &principal.subject)?;
    let canonical = serde_json::to_vec(&body).map_err(|error| {
        tracing::error!(%error, "serialising an order request failed");
        ApiError::new(platform::error::kinds::INTERNAL, "Internal error")
    })?;
    let key = IdempotencyKey {
        shopper_id: principal.subject.clone(),
        key,
        request_hash: format!("{:x}", Sha256::digest(&canonical)),
    };
    let acceptance = state
        .store
        .accept(&key, order, |order| {
            let accepted = OrderAccepted {
                id: order.id,
                status: order.status,
                quote_id: order.quote_id,
                created_at: order.created_at,
            };
            serde_json::to_string(&accepted).unwrap_or_default()
        })
        .await
        .map_err(OrderError::from)?;
    Ok(match acceptance {
        Acceptance::Created { order_id, body } => {
            state.wake.wake();
            tracing::info!(%order_id, "order accepted");
            accepted(order_id, body, false)
        }
        Acceptance::Replayed { order_id, body } => accepted(order_id, body, true),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusFilter {
    /// Only orders in this status.
    #[param(schema_with = platform::schema::names::<OrderStatus>)]
    pub status: Option<OrderStatus>,
}

/// The caller's orders, newest first (admins: everyone's).
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(StatusFilter, PageQuery),
    responses(
        (status = 200, body = Paged<OrderView>),
        AuthProblems,
    )
)]
#[get("/v1/orders", wrap = "Allow::only(SHOPPER_OR_ADMIN)")]
pub async fn list_orders(
    principal: Principal,
    filter: web::Query<StatusFilter>,
    paging: web::Query<PageQuery>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SHOPPER_OR_ADMIN)?;
    let page = page_of(&paging)?;
    let filter = OrderFilter {
        shopper_id: (principal.role != Role::Admin).then(|| principal.subject.clone()),
        status: filter.status,
        ..Default::default()
    };
    let (orders, total) = state
        .store
        .list(&filter, page)
        .await
        .map_err(OrderError::from)?;
    let admin = principal.role == Role::Admin;
    let items = orders
        .iter()
        .map(|order| OrderView::of(order, admin))
        .collect();
    Ok(no_store(&Paged::new(items, page, total)))
}

fn no_store<T: serde::Serialize>(body: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// One order.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = OrderView),
        AuthProblems,
        OrderNotFound,
    )
)]
#[get("/v1/orders/{id}", wrap = "Allow::only(SHOPPER_OR_ADMIN)")]
pub async fn get_order(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SHOPPER_OR_ADMIN)?;
    let order = state.store.get(*id).await.map_err(OrderError::from)?;
    let order = visible_to(order, &principal)?;
    Ok(no_store(&OrderView::of(
        &order,
        principal.role == Role::Admin,
    )))
}

/// Every step the order went through, oldest first.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Timeline),
        AuthProblems,
        OrderNotFound,
    )
)]
#[get("/v1/orders/{id}/timeline", wrap = "Allow::only(SHOPPER_OR_ADMIN)")]
pub async fn get_timeline(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SHOPPER_OR_ADMIN)?;
    let order = state.store.get(*id).await.map_err(OrderError::from)?;
    let order = visible_to(order, &principal)?;
    let items = state
        .store
        .timeline(order.id)
        .await
        .map_err(OrderError::from)?;
    Ok(no_store(&Timeline {
        order_id: order.id,
        items: items.into_iter().map(TimelineItem::from).collect(),
    }))
}

/// Runs a shopper's decision on their order under the order's lease.
pub(super) async fn decide(
    state: &OrderState,
    principal: &Principal,
    id: Uuid,
    step: Step,
) -> Result<HttpResponse, ApiError> {
    let outcome = run_in_sequence(state.sequencer.as_ref(), &id.to_string(), |_fence| async {
        let order = state.store.get(id).await?;
        let order = visible_to(order, principal)?;
        Ok::<_, OrderError>(state.store.step(order.id, &step).await?)
    })
    .await
    .map_err(OrderError::from)?;
    let order = outcome?;
    if order.status.needs_processing() {
        state.wake.wake();
    }
    tracing::info!(order_id = %id, step = step.name(), by = %principal.role, "order changed");
    Ok(no_store(&OrderView::of(
        &order,
        principal.role == Role::Admin,
    )))
}

/// Cancel before the device is picked up.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = OrderView),
        AuthProblems,
        OrderNotFound,
        CancelConflicts,
        Sequenced,
    )
)]
#[post("/v1/orders/{id}/cancel", wrap = "Allow::only(SHOPPER)")]
pub async fn cancel_order(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SHOPPER)?;
    let step = Step::Cancel {
        by: Actor::Shopper,
        reason: "cancelled by the shopper".into(),
    };
    decide(&state, &principal, *id, step).await
}

/// Accept the price revised after inspection; payout follows.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = OrderView),
        AuthProblems,
        OrderNotFound,
        RevisedPriceConflicts,
        Sequenced,
    )
)]
#[post("/v1/orders/{id}/revised-price/accept", wrap = "Allow::only(SHOPPER)")]
pub async fn accept_revised_price(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SHOPPER)?;
    decide(&state, &principal, *id, Step::AcceptRevisedPrice).await
}

/// Refuse the revised price; the device is returned.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = OrderView),
        AuthProblems,
        OrderNotFound,
        RevisedPriceConflicts,
        Sequenced,
    )
)]
#[post("/v1/orders/{id}/revised-price/refuse", wrap = "Allow::only(SHOPPER)")]
pub async fn refuse_revised_price(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<OrderState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SHOPPER)?;
    decide(&state, &principal, *id, Step::RefuseRevisedPrice).await
}
