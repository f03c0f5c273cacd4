//! HTTP handlers: check the caller, parse the request, call the use case, shape the answer.
//! Every handler takes the [`Principal`](platform::auth::Principal) first and checks its
//! role before touching the body or the store.

mod admin;
pub mod dto;
mod quotes;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use platform::pagination::{PageQuery, PageRequest};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::QuoteError;

pub use crate::quoting::QuoteState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(quotes::create_quote)
        .service(quotes::get_quote)
        .service(quotes::lock_quote)
        .service(quotes::requote)
        .service(admin::create_adjustment)
        .service(admin::list_adjustments)
        .service(admin::get_adjustment)
        .service(admin::delete_adjustment);
}

/// Quotes and admin data are private: never cached by intermediaries.
fn private_json<T: serde::Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The page asked for, or a 400 `invalid_query_parameter`.
fn page(query: &PageQuery) -> Result<PageRequest, QuoteError> {
    query.validated().map_err(QuoteError::InvalidQuery)
}
