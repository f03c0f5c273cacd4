//! Quotes: shoppers create and read them; the order service locks them; fulfilment asks
//! for a re-quote after inspection.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, post, web};
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::{AuthProblems, BodyProblems, Problem};
use uuid::Uuid;

use super::dto::{
    AnswerChangeDto, LockRequest, LockResponse, MAX_SHOPPER_ID_CHARS, NewQuoteRequest, QuoteDto,
    RequoteRequest, RequoteResponse, breakdown,
};
use super::{QuoteState, private_json};
use crate::clock;
use crate::domain::{Answer, Violations};
use crate::error::QuoteError;
use crate::quoting::QuoteRequest;

fn answers(dtos: &[super::dto::AnswerDto]) -> Vec<Answer> {
    dtos.iter().copied().map(Answer::from).collect()
}

/// Price a device: its variant, the condition answers and the pickup PIN code.
#[utoipa::path(
    tag = "quotes",
    security(("bearer" = [])),
    request_body = NewQuoteRequest,
    responses(
        (status = 201, body = QuoteDto,
            headers(("Location" = String, description = "The quote's URL")),
            links(("GetQuote" = (operation_id = "get_quote", parameters(("id" = "$response.body#/id")), description = "The quote just issued")))),
        AuthProblems,
        BodyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json", description = "Unknown variant (`variant_not_found`)"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The model is retired (`device_retired`)"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The variant is not known here and the catalog is unreachable (`catalog_unavailable`)"),
    )
)]
#[post("/v1/quotes", wrap = "Allow::only(&[Role::Shopper])")]
pub async fn create_quote(
    principal: Principal,
    body: web::Json<NewQuoteRequest>,
    state: web::Data<QuoteState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Shopper])?;
    let body = body.into_inner();
    let quote = state
        .issue(
            &principal.subject,
            QuoteRequest {
                variant_id: body.variant_id,
                answers: answers(&body.answers),
                pincode: body.pincode,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/quotes/{}", quote.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(QuoteDto::new(&quote, clock::now())))
}

/// One quote: for its shopper, admins and other services. Anyone else gets 404.
#[utoipa::path(
    tag = "quotes",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = QuoteDto),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`quote_not_found`"),
    )
)]
#[get(
    "/v1/quotes/{id}",
    wrap = "Allow::only(&[Role::Shopper, Role::Admin, Role::Service])"
)]
pub async fn get_quote(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<QuoteState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Shopper, Role::Admin, Role::Service])?;
    let id = id.into_inner();
    let quote = state
        .store
        .quote(id)
        .await
        .map_err(QuoteError::from)?
        .filter(|quote| principal.role != Role::Shopper || quote.shopper_id == principal.subject)
        .ok_or(QuoteError::QuoteNotFound(id))?;
    Ok(private_json(
        StatusCode::OK,
        &QuoteDto::new(&quote, clock::now()),
    ))
}

/// Validate and lock a quote for an order (the order service's call). Idempotent per
/// order: repeating it answers the same body. 404 `quote_not_found` (none, or another
/// shopper's), 410 `quote_expired`, 409 `quote_already_used` (another order has it).
#[utoipa::path(
    tag = "quotes",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = LockRequest,
    responses(
        (status = 200, body = LockResponse),
        AuthProblems,
        BodyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`quote_not_found`: no such quote, or not this shopper's"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`quote_already_used`: locked by another order; or `concurrent_update`: locked by two requests at once and still undecided, retry"),
        (status = 410, body = Problem, content_type = "application/problem+json", description = "`quote_expired`"),
    )
)]
#[post(
    "/v1/quotes/{id}/lock",
    wrap = "Allow::only(&[Role::Service, Role::Admin])"
)]
pub async fn lock_quote(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<LockRequest>,
    state: web::Data<QuoteState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Service, Role::Admin])?;
    let mut violations = Violations::default();
    violations.check(
        !body.shopper_id.trim().is_empty()
            && body.shopper_id.chars().count() <= MAX_SHOPPER_ID_CHARS,
        "shopper_id",
        format!("must be 1 to {MAX_SHOPPER_ID_CHARS} characters"),
    );
    if !violations.0.is_empty() {
        return Err(QuoteError::from(violations).into());
    }
    let (quote, lock) = state
        .lock(
            id.into_inner(),
            body.order_id,
            &body.shopper_id,
            body.accepted_at,
        )
        .await?;
    Ok(private_json(
        StatusCode::OK,
        &LockResponse::new(&quote, lock),
    ))
}

/// Price the quoted variant again with the condition observed at inspection (same base
/// price, adjustments and floor as quoted; the current questionnaire). Works on locked and
/// expired quotes; changes nothing.
#[utoipa::path(
    tag = "quotes",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = RequoteRequest,
    responses(
        (status = 200, body = RequoteResponse),
        AuthProblems,
        BodyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`quote_not_found`"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "`catalog_unavailable`"),
    )
)]
#[post(
    "/v1/quotes/{id}/requote",
    wrap = "Allow::only(&[Role::Service, Role::Admin])"
)]
pub async fn requote(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<RequoteRequest>,
    state: web::Data<QuoteState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Service, Role::Admin])?;
    let requote = state
        .requote(id.into_inner(), &answers(&body.answers))
        .await?;
    Ok(private_json(
        StatusCode::OK,
        &RequoteResponse {
            quote_id: requote.quote.id,
            original_price: (&requote.quote.price).into(),
            revised_price: (&requote.revised.price).into(),
            breakdown: breakdown(&requote.revised.breakdown),
            changes: requote.changes.iter().map(AnswerChangeDto::from).collect(),
        },
    ))
}
