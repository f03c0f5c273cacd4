//! Re-pricing after inspection: quote prices the observed condition against the quote the
//! shopper ordered with. Only an explicit answer about the request (4xx) stops retries; a
//! quote outage only delays the inspection's result.

use platform::service_client::CallError;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RequoteError {
    #[error("the quote service is unavailable: {0}")]
    Unavailable(String),
    /// Quote refused the request itself (say, answers that fit no questionnaire).
    #[error("quote refused the re-quote: {0}")]
    Refused(String),
}

#[derive(Deserialize)]
struct RequoteResponse {
    revised_price: Price,
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Body {
            amount_minor: i64,
            currency: String,
        }
        let body = Body::deserialize(deserializer)?;
        Ok(Self {
            amount_minor: body.amount_minor,
            currency: body.currency,
        })
    }
}

platform::worker_client! {
    /// Calls to quote on behalf of fulfilment's inspection worker.
    pub struct QuoteClient calls "quote" as "fulfilment-service";
}

impl QuoteClient {
    pub async fn requote(
        &self,
        quote_id: Uuid,
        answers: &serde_json::Value,
    ) -> Result<Price, RequoteError> {
        let path = format!("/v1/quotes/{quote_id}/requote");
        let body = serde_json::json!({ "answers": answers });
        match self.0.post::<_, RequoteResponse>(&path, &body).await {
            Ok(answer) => Ok(answer.revised_price),
            Err(CallError::Refused { refusal, .. })
                if refuses_the_request(refusal.status.as_u16(), refusal.code.as_deref()) =>
            {
                Err(RequoteError::Refused(format!(
                    "{}: {}",
                    refusal.status, refusal.body
                )))
            }
            Err(CallError::Refused { refusal, .. }) => {
                Err(RequoteError::Unavailable(refusal.status.to_string()))
            }
            Err(unavailable) => Err(RequoteError::Unavailable(unavailable.to_string())),
        }
    }
}

/// Whether quote's answer says the request itself is wrong, so retrying it as it is can never
/// succeed: bad answers (400, 422 `validation_failed`/`invalid_answers`), a quote that does
/// not exist (404, 410) or cannot be re-priced (409, say `device_retired`). Anything else
/// is retried: 5xx, 429, a 409 `concurrent_update` (quote was busy), and 401/403, which mean
/// this service's credentials are misconfigured and will be fixed.
pub fn refuses_the_request(status: u16, code: Option<&str>) -> bool {
    matches!(status, 400 | 404 | 409 | 410 | 422) && code != Some("concurrent_update")
}

#[cfg(test)]
mod tests {
    use super::refuses_the_request;

    #[test]
    fn only_answers_about_the_request_itself_stop_retries() {
        for status in [400, 404, 409, 410, 422] {
            assert!(refuses_the_request(status, None), "{status}");
        }
        assert!(refuses_the_request(422, Some("invalid_answers")));
        assert!(refuses_the_request(409, Some("device_retired")));
        assert!(!refuses_the_request(409, Some("concurrent_update")));
        for status in [401, 403, 408, 429, 500, 502, 503, 504] {
            assert!(!refuses_the_request(status, None), "{status}");
        }
    }
}
