//! The problems the order service's handlers answer besides the shell's, for their OpenAPI
//! declarations: each status once, with the codes a client can branch on (`OrderError`'s
//! `code()` in `error.rs` is where each comes from).

use platform::error::Problem;

/// Placing an order. Listed after `BodyProblems`, whose 400 and 422 these replace: the
/// same answers, with the `Idempotency-Key`'s. Quote is not called here: a quote that is
/// unknown, another shopper's, expired or used rejects the order later (status `rejected`,
/// `reason` the quote's code), it is not an answer to this request.
#[derive(utoipa::IntoResponses)]
pub enum PlaceOrderAnswers {
    /// No `Idempotency-Key` header (`idempotency_key_missing`), one that is not 1 to 255
    /// visible ASCII characters (`idempotency_key_invalid`), or a body that is not JSON
    /// (`malformed_json`).
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// The key's first use was being pruned (after its retention) at the same moment;
    /// retry (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// This `Idempotency-Key` was used before with another body (`idempotency_key_reused`);
    /// values breaking a rule, every one listed in `errors`, an unknown `window` or payout
    /// `method` among them (`validation_failed`); wrong types, missing or unknown fields
    /// (`invalid_body`).
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
}

/// An order read by its owner or an admin.
#[derive(utoipa::IntoResponses)]
pub enum OrderNotFound {
    /// No order with this id, or (shopper tokens) not one of the caller's
    /// (`order_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// An order read or changed by an admin.
#[derive(utoipa::IntoResponses)]
pub enum AdminOrderNotFound {
    /// No order with this id (`order_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// Cancelling (the shopper's or an admin's).
#[derive(utoipa::IntoResponses)]
pub enum CancelConflicts {
    /// Only before pickup: the order is past `pickup_scheduled` or already final
    /// (`illegal_transition`, with `current_status` and `action`), or it was changed at the
    /// same time (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// Accepting or refusing a revised price.
#[derive(utoipa::IntoResponses)]
pub enum RevisedPriceConflicts {
    /// No revised price is waiting: the order is not `awaiting_shopper`
    /// (`illegal_transition`, with `current_status` and `action`), or it was changed at the
    /// same time (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// A decision on an order, taken under the order's lease.
#[derive(utoipa::IntoResponses)]
pub enum Sequenced {
    /// The order's sequencer is unavailable; retry shortly (`coordinator_unavailable`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The admin search.
#[derive(utoipa::IntoResponses)]
pub enum SearchProblems {
    /// A query parameter is malformed or out of its range, or `created_from` is after
    /// `created_to` (`invalid_query_parameter`).
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
}
