//! The order service's one synchronous dependency: validating and locking the quote. It is
//! called by the processor, never on the accept path, so a quote outage delays orders but
//! never refuses them. Only an explicit answer about the quote rejects an order; anything
//! else (timeouts, 5xx, a misconfigured token) is retried.

use std::time::Duration;

pub use platform::auth::ServiceCredentials;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Currency, Money};

/// The codes with which quote says no for good.
const REFUSALS: [&str; 3] = ["quote_not_found", "quote_expired", "quote_already_used"];

#[derive(Debug, Clone, PartialEq)]
pub enum LockOutcome {
    Locked {
        variant_id: Uuid,
        price: Money,
    },
    /// The quote cannot back this order; `code` is quote's problem code.
    Refused {
        code: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("the quote service is unavailable: {0}")]
pub struct QuoteUnavailable(pub String);

#[derive(Serialize)]
struct LockRequest<'a> {
    order_id: Uuid,
    shopper_id: &'a str,
}

#[derive(Deserialize)]
struct MoneyBody {
    amount_minor: i64,
    currency: String,
}

#[derive(Deserialize)]
struct LockResponse {
    variant_id: Uuid,
    price: MoneyBody,
}

#[derive(Deserialize)]
struct ProblemBody {
    code: Option<String>,
}

#[derive(Clone)]
pub struct QuoteClient {
    http: reqwest::Client,
    base_url: String,
    credentials: ServiceCredentials,
}

impl QuoteClient {
    pub fn new(
        base_url: &str,
        timeout: Duration,
        credentials: ServiceCredentials,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            credentials,
        })
    }

    /// Locks `quote_id` to `order_id` for `shopper_id`. Idempotent on quote's side for the
    /// same order, so a retry after a lost response is harmless.
    pub async fn lock(
        &self,
        quote_id: Uuid,
        order_id: Uuid,
        shopper_id: &str,
    ) -> Result<LockOutcome, QuoteUnavailable> {
        let url = format!("{}/v1/quotes/{quote_id}/lock", self.base_url);
        let mut request = self
            .http
            .post(&url)
            .bearer_auth(self.credentials.bearer("order-service").map_err(|error| {
                QuoteUnavailable(format!("cannot sign a service token: {error}"))
            })?)
            .json(&LockRequest {
                order_id,
                shopper_id,
            });
        let traceparent = platform::telemetry::current_traceparent();
        if !traceparent.is_empty() {
            request = request.header("traceparent", traceparent);
        }
        let response = request
            .send()
            .await
            .map_err(|error| QuoteUnavailable(error.to_string()))?;
        let status = response.status();
        if status.is_success() {
            let body: LockResponse = response
                .json()
                .await
                .map_err(|error| QuoteUnavailable(format!("unreadable lock response: {error}")))?;
            let currency = Currency::parse(&body.price.currency).ok_or_else(|| {
                QuoteUnavailable(format!("unknown currency {}", body.price.currency))
            })?;
            return Ok(LockOutcome::Locked {
                variant_id: body.variant_id,
                price: Money {
                    amount_minor: body.price.amount_minor,
                    currency,
                },
            });
        }
        let code = response
            .json::<ProblemBody>()
            .await
            .ok()
            .and_then(|problem| problem.code);
        match code {
            Some(code) if status.is_client_error() && REFUSALS.contains(&code.as_str()) => {
                Ok(LockOutcome::Refused { code })
            }
            code => {
                if status.is_client_error() {
                    // Our request was refused for a reason about us, not the quote.
                    tracing::error!(%status, ?code, "quote refused the lock request itself");
                }
                Err(QuoteUnavailable(format!(
                    "{status} {}",
                    code.unwrap_or_default()
                )))
            }
        }
    }
}
