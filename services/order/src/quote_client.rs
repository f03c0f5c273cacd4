//! The order service's one synchronous dependency: validating and locking the quote. It is
//! called by the processor, never on the accept path, so a quote outage delays orders but
//! never refuses them. Only an explicit answer about the quote rejects an order; anything
//! else (timeouts, 5xx, a misconfigured token) is retried.

use chrono::{DateTime, Utc};
pub use platform::auth::ServiceCredentials;
use platform::service_client::CallError;
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
    /// Quote judges validity at this time, so our own delay (quote or this service down
    /// after the 202) never expires a shopper's quote.
    accepted_at: DateTime<Utc>,
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

platform::worker_client! {
    /// Calls to quote on behalf of order's processor.
    pub struct QuoteClient calls "quote" as "order-service";
}

impl QuoteClient {
    /// Locks `quote_id` to `order_id` for `shopper_id`, valid if it was when the order was
    /// `accepted_at`. Idempotent on quote's side for the same order, so a retry after a lost
    /// response is harmless.
    pub async fn lock(
        &self,
        quote_id: Uuid,
        order_id: Uuid,
        shopper_id: &str,
        accepted_at: DateTime<Utc>,
    ) -> Result<LockOutcome, QuoteUnavailable> {
        let request = LockRequest {
            order_id,
            shopper_id,
            accepted_at,
        };
        let path = format!("/v1/quotes/{quote_id}/lock");
        match self.0.post::<_, LockResponse>(&path, &request).await {
            Ok(body) => {
                let currency = Currency::parse(&body.price.currency).ok_or_else(|| {
                    QuoteUnavailable(format!("unknown currency {}", body.price.currency))
                })?;
                Ok(LockOutcome::Locked {
                    variant_id: body.variant_id,
                    price: Money {
                        amount_minor: body.price.amount_minor,
                        currency,
                    },
                })
            }
            Err(CallError::Refused { refusal, .. }) => match refusal.code {
                Some(code) if REFUSALS.contains(&code.as_str()) => {
                    Ok(LockOutcome::Refused { code })
                }
                code => {
                    // Our request was refused for a reason about us, not the quote.
                    tracing::error!(status = %refusal.status, ?code, "quote refused the lock request itself");
                    Err(QuoteUnavailable(format!(
                        "{} {}",
                        refusal.status,
                        code.unwrap_or_default()
                    )))
                }
            },
            Err(unavailable) => Err(QuoteUnavailable(unavailable.to_string())),
        }
    }
}
