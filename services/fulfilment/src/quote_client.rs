//! Re-pricing after inspection: quote prices the observed condition against the quote the
//! shopper ordered with. Only an explicit answer about the request (4xx) stops retries; a
//! quote outage only delays the inspection's result.

use std::time::Duration;

use platform::auth::ServiceCredentials;
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

    pub async fn requote(
        &self,
        quote_id: Uuid,
        answers: &serde_json::Value,
    ) -> Result<Price, RequoteError> {
        let bearer = self
            .credentials
            .bearer("fulfilment-service")
            .map_err(|error| RequoteError::Unavailable(format!("cannot sign a token: {error}")))?;
        let mut request = self
            .http
            .post(format!("{}/v1/quotes/{quote_id}/requote", self.base_url))
            .bearer_auth(bearer)
            .json(&serde_json::json!({ "answers": answers }));
        let traceparent = platform::telemetry::current_traceparent();
        if !traceparent.is_empty() {
            request = request.header("traceparent", traceparent);
        }
        let response = request
            .send()
            .await
            .map_err(|error| RequoteError::Unavailable(error.to_string()))?;
        let status = response.status();
        if status.is_success() {
            let body: RequoteResponse = response.json().await.map_err(|error| {
                RequoteError::Unavailable(format!("unreadable re-quote response: {error}"))
            })?;
            return Ok(body.revised_price);
        }
        let body = response.text().await.unwrap_or_default();
        let code = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|problem| problem["code"].as_str().map(str::to_owned));
        if refuses_the_request(status.as_u16(), code.as_deref()) {
            Err(RequoteError::Refused(format!("{status}: {body}")))
        } else {
            Err(RequoteError::Unavailable(format!("{status}")))
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
