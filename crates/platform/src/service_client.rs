//! One HTTP client for calling another recommerce service, so every call between services
//! carries the same things: a service token (signed, or the configured one), `traceparent`,
//! a timeout, retries with the platform's backoff, the callee's problem code parsed out of a
//! refusal, and a circuit breaker. The breaker matters because our callers are background
//! workers: when a dependency is dead, failing at once (and trying again later) frees the
//! worker and the connection instead of spending a timeout on every row.
//!
//! What a refusal *means* stays with the caller: each service wraps this client in a thin
//! typed client that decides which problem codes end the work and which are retried.

use std::time::Duration;

use failsafe::StateMachine;
use failsafe::failure_policy::{ConsecutiveFailures, consecutive_failures};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::ServiceCredentials;
use crate::retry::{Backoff, Delays, RetryPolicy};

/// Calls in a row that must fail before the breaker opens.
const FAILURES_TO_OPEN: u32 = 5;
/// How long the breaker stays open at first; each failed probe doubles it, up to the max.
const FIRST_OPEN: Duration = Duration::from_millis(500);
const LONGEST_OPEN: Duration = Duration::from_secs(5);

/// How to reach one service.
#[derive(Clone)]
pub struct ServiceClientConfig {
    /// The callee's name, for messages and logs (`quote`, `catalog`).
    pub callee: &'static str,
    pub base_url: String,
    /// For one attempt, connecting included.
    pub timeout: Duration,
    /// `None`: the callee's routes are public (the catalog's device reads).
    pub credentials: Option<ServiceCredentials>,
    /// The subject of signed service tokens (`order-service`).
    pub caller: &'static str,
    /// Attempts per call (1: no retry within the call; the caller retries later).
    pub attempts: u32,
    /// The longest pause between two attempts of one call.
    pub max_pause: Duration,
}

impl ServiceClientConfig {
    /// For a background worker calling `callee` as `caller` with a service token: one
    /// attempt per call, since the worker's due work is what retries, later.
    pub fn for_worker(
        callee: &'static str,
        caller: &'static str,
        base_url: &str,
        timeout: Duration,
        credentials: ServiceCredentials,
    ) -> Self {
        Self {
            callee,
            base_url: base_url.to_owned(),
            timeout,
            credentials: Some(credentials),
            caller,
            attempts: 1,
            max_pause: Duration::ZERO,
        }
    }
}

/// A problem+json refusal: the callee answered 4xx about this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    /// The callee's stable problem `code`, when it sent one.
    pub code: Option<String>,
    /// The body as received, for logs.
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No usable answer: connection refused, timeout, 5xx, 429, 408, an unreadable body,
    /// a token that could not be signed, or the breaker open. Worth trying again later.
    #[error("{callee} is unavailable: {reason}")]
    Unavailable {
        callee: &'static str,
        reason: String,
    },
    /// The callee refused the request (4xx other than 408 and 429).
    #[error("{callee} refused the request: {} {}", refusal.status, refusal.code.as_deref().unwrap_or(""))]
    Refused {
        callee: &'static str,
        refusal: Refusal,
    },
}

type Breaker = StateMachine<ConsecutiveFailures<Delays>, ()>;

/// Cheap to clone; clones share the connection pool and the breaker.
#[derive(Clone)]
pub struct ServiceClient {
    http: reqwest::Client,
    config: ServiceClientConfig,
    breaker: Breaker,
}

impl ServiceClient {
    pub fn new(mut config: ServiceClientConfig) -> Result<Self, reqwest::Error> {
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        config.attempts = config.attempts.max(1);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()?;
        let breaker = failsafe::Config::new()
            .failure_policy(consecutive_failures(
                FAILURES_TO_OPEN,
                Delays::from(RetryPolicy::new(FIRST_OPEN, LONGEST_OPEN)),
            ))
            .build();
        Ok(Self {
            http,
            config,
            breaker,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        self.call::<(), T>(Method::GET, path, None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CallError> {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, CallError> {
        let mut pauses = Backoff::up_to(self.config.max_pause);
        let mut attempt = 1;
        loop {
            let result = self.attempt(method.clone(), path, body).await;
            match result {
                Err(CallError::Unavailable { reason, .. }) if attempt < self.config.attempts => {
                    let pause = pauses.next_delay();
                    tracing::warn!(
                        callee = self.config.callee,
                        %method,
                        path,
                        %reason,
                        attempt,
                        retry_in = ?pause,
                        "call failed; retrying"
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn attempt<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, CallError> {
        if !self.breaker.is_call_permitted() {
            return Err(self.unavailable(format!(
                "not called: {FAILURES_TO_OPEN} or more calls in a row failed just now"
            )));
        }
        let result = self.send(method, path, body).await;
        match &result {
            Err(CallError::Unavailable { .. }) => self.breaker.on_error(),
            // An answer, even a refusal, means the callee is alive.
            Ok(_) | Err(CallError::Refused { .. }) => self.breaker.on_success(),
        }
        result
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, CallError> {
        let url = format!("{}{path}", self.config.base_url);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(credentials) = &self.config.credentials {
            let token = credentials
                .bearer(self.config.caller)
                .map_err(|error| self.unavailable(format!("cannot sign a token: {error}")))?;
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let traceparent = crate::telemetry::current_traceparent();
        if !traceparent.is_empty() {
            request = request.header("traceparent", traceparent);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.unavailable(format!("{method} {path}: {error}")))?;
        let status = response.status();
        if status.is_success() {
            return response.json::<T>().await.map_err(|error| {
                self.unavailable(format!("{method} {path}: unreadable answer: {error}"))
            });
        }
        let body = response.text().await.unwrap_or_default();
        if is_refusal(status) {
            let code = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|problem| problem["code"].as_str().map(str::to_owned));
            return Err(CallError::Refused {
                callee: self.config.callee,
                refusal: Refusal { status, code, body },
            });
        }
        Err(self.unavailable(format!("{method} {path} answered {status}")))
    }

    fn unavailable(&self, reason: String) -> CallError {
        CallError::Unavailable {
            callee: self.config.callee,
            reason,
        }
    }
}

/// A 4xx answer about this request; 408 and 429 say "not now" and are retried.
fn is_refusal(status: StatusCode) -> bool {
    status.is_client_error()
        && status != StatusCode::REQUEST_TIMEOUT
        && status != StatusCode::TOO_MANY_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_other_than_timeout_and_too_many_requests_are_refusals() {
        for status in [400, 401, 403, 404, 409, 410, 422] {
            assert!(
                is_refusal(StatusCode::from_u16(status).unwrap_or_default()),
                "{status}"
            );
        }
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                !is_refusal(StatusCode::from_u16(status).unwrap_or_default()),
                "{status}"
            );
        }
    }
}
