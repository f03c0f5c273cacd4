//! Calls partners' webhooks. Each delivery is owed as due work, so one instance at a time
//! sends it; it is signed, sent, and logged attempt by attempt; failures wait longer each
//! time (the platform's retry delay), then give up and wait for a manual redelivery. Host names are resolved through a resolver that drops
//! private addresses, so a name that later points inside our network is not followed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use platform::due_work::{DueWork, DueWorkSettings, Outcome};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::webhook::{AfterAttempt, TargetPolicy, after_attempt, is_public, signature};
use crate::domain::{Delivery, NewAttempt, Webhook};
use crate::store::{self, DELIVER, StoreError};

pub const ID_HEADER: &str = "Recommerce-Webhook-Id";
pub const TIMESTAMP_HEADER: &str = "Recommerce-Webhook-Timestamp";
pub const SIGNATURE_HEADER: &str = "Recommerce-Webhook-Signature";
/// Deliveries one instance sends at once (a slow receiver must not hold up the others).
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// Let webhooks target loopback and private networks (tests, a partner on the LAN).
    /// Unset: on in the dev profile only (see `configuration`).
    pub allow_private_targets: bool,
    /// Let webhooks use `http://` URLs. Unset: on in the dev profile only; production's
    /// egress reaches port 443 alone, so an http webhook could never be delivered there.
    pub allow_plain_http: bool,
    pub timeout_ms: u64,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Attempts per delivery before it is `failed` (a redelivery starts a new round).
    pub max_attempts: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            allow_plain_http: false,
            timeout_ms: 5_000,
            retry_initial_ms: 1_000,
            retry_max_ms: 600_000,
            max_attempts: 8,
        }
    }
}

impl WebhookSettings {
    /// The targets these settings let a webhook have.
    pub fn target_policy(&self) -> TargetPolicy {
        TargetPolicy {
            private_targets: self.allow_private_targets,
            plain_http: self.allow_plain_http,
        }
    }
}

/// DNS that never answers with a private address.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|addr| is_public(addr.ip())).collect();
            if public.is_empty() {
                return Err("the host resolves only to private addresses".into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

pub fn client(settings: &WebhookSettings) -> Result<reqwest::Client, reqwest::Error> {
    let timeout = Duration::from_millis(settings.timeout_ms);
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve names itself, past the resolver below.
        .no_proxy();
    if !settings.allow_private_targets {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build()
}

pub struct Deliverer {
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    pub settings: WebhookSettings,
}

/// One attempt of one delivery: the due work the portal owes with every delivery queued
/// or redelivered. The due-work runner gives a row to one instance at a time.
#[async_trait::async_trait]
impl DueWork for Deliverer {
    fn kind(&self) -> &'static str {
        DELIVER
    }

    async fn run(&self, key: &str, _failures: u32) -> Outcome {
        let Ok(id) = key.parse::<Uuid>() else {
            tracing::warn!(
                key,
                "a delivery owed for something that is not a delivery id; dropped"
            );
            return Outcome::Done;
        };
        match self.attempt(id).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Retry(format!("the attempt could not be recorded: {error}")),
        }
    }
}

impl Deliverer {
    /// Runner settings: deliveries at once (a slow receiver must not hold up the others).
    pub fn runner_settings(&self) -> DueWorkSettings {
        DueWorkSettings {
            batch_size: 16,
            concurrency: CONCURRENCY,
            // Long enough for the request to finish; if this instance dies, another
            // retries then.
            lease_seconds: self.settings.timeout_ms.saturating_mul(2) / 1_000 + 5,
            poll_interval_ms: 200,
            retry_initial_ms: self.settings.retry_initial_ms,
            retry_max_ms: self.settings.retry_max_ms,
            ..DueWorkSettings::default()
        }
    }

    async fn attempt(&self, id: Uuid) -> Result<Outcome, StoreError> {
        let Some((delivery, hook)) = store::delivery_to_send(&self.db, id).await? else {
            return Ok(Outcome::Done);
        };
        if let Some(at) = delivery.due_after(Utc::now()) {
            return Ok(Outcome::Again(at));
        }
        let started = Instant::now();
        let outcome = match &hook {
            None => Err("the webhook was removed".to_owned()),
            Some(hook) => self.send(hook, &delivery).await,
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let attempt = NewAttempt::of(outcome, duration_ms);
        let tries = delivery.tries.saturating_add(1);
        let after = after_attempt(
            attempt.delivered(),
            hook.is_some(),
            tries,
            self.settings.max_attempts,
        );
        let retry_at = match after {
            AfterAttempt::Retry { tries } => {
                let delay = self.runner_settings().retry().delay(tries);
                Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default())
            }
            AfterAttempt::Delivered | AfterAttempt::Failed => None,
        };
        if !store::record_attempt(&self.db, &delivery, attempt, after, retry_at).await? {
            tracing::info!(delivery_id = %delivery.id, "the delivery was reset while it was being sent; the new round goes on");
            return Ok(Outcome::Done);
        }
        Ok(retry_at.map_or(Outcome::Done, Outcome::Again))
    }

    /// Sends one signed attempt; the receiver's status, or why there was none.
    async fn send(&self, hook: &Webhook, delivery: &Delivery) -> Result<u16, String> {
        // Checked again at send time: the rules may have tightened since registration.
        crate::domain::webhook::check_url(&hook.url, self.settings.target_policy())
            .map_err(|refused| refused.to_string())?;
        let timestamp = Utc::now().timestamp();
        let body = delivery.payload.as_bytes().to_vec();
        let response = self
            .http
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, delivery.id.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(&hook.secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        Ok(response.status().as_u16())
    }
}
