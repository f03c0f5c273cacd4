//! The order service's settings: the platform's shared sections plus `order.*`.

use platform::config::{BaseSettings, ConfigError, Layers, ServiceDefaults, ServiceSettings};
use secrecy::SecretString;
use serde::Deserialize;

pub const SERVICE: ServiceDefaults = ServiceDefaults {
    name: "order",
    port: 8083,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OrderSettings {
    /// Where the quote service answers (validate-and-lock).
    pub quote_url: String,
    pub quote_timeout_ms: u64,
    /// A `service` token for quote when this service cannot sign one (JWKS deployments);
    /// with `auth.service_secret` set, short-lived tokens are signed instead.
    pub quote_token: Option<SecretString>,
    /// How long an Idempotency-Key is remembered; afterwards it may place a new order.
    pub idempotency_retention_hours: u64,
    /// The processor's due-work runner (`order.processor.*`).
    pub processor: platform::due_work::DueWorkSettings,
    /// Run the processor in this instance (every instance may; they coordinate per order).
    pub process_orders: bool,
    /// An open order unchanged for longer than this counts as stuck (`orders_stuck`).
    pub stuck_after_minutes: u32,
    /// How often each instance counts its stuck orders.
    pub stuck_check_seconds: u64,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            quote_url: "http://127.0.0.1:8082".into(),
            quote_timeout_ms: 3_000,
            quote_token: None,
            idempotency_retention_hours: 24,
            processor: platform::due_work::DueWorkSettings::default(),
            process_orders: true,
            stuck_after_minutes: 60,
            stuck_check_seconds: 30,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub base: BaseSettings,
    pub order: OrderSettings,
}

impl ServiceSettings for Settings {
    fn base(&self) -> &BaseSettings {
        &self.base
    }

    /// The shared sections and its own, validated.
    fn from_layers(layers: &Layers) -> Result<Self, ConfigError> {
        let base = layers.base()?;
        let order: OrderSettings = layers.section("order")?;
        if !order.quote_url.starts_with("http://") && !order.quote_url.starts_with("https://") {
            return Err(ConfigError::invalid("order.quote_url", "an http(s) URL"));
        }
        if !(100..=60_000).contains(&order.quote_timeout_ms) {
            return Err(ConfigError::invalid(
                "order.quote_timeout_ms",
                "between 100 and 60000 milliseconds",
            ));
        }
        if !(1..=24 * 365).contains(&order.idempotency_retention_hours) {
            return Err(ConfigError::invalid(
                "order.idempotency_retention_hours",
                "between 1 and 8760 hours",
            ));
        }
        if !(1..=crate::routes::MAX_STUCK_FOR_MINUTES).contains(&order.stuck_after_minutes) {
            return Err(ConfigError::invalid(
                "order.stuck_after_minutes",
                "between 1 minute and ten years",
            ));
        }
        if !(1..=3600).contains(&order.stuck_check_seconds) {
            return Err(ConfigError::invalid(
                "order.stuck_check_seconds",
                "between 1 and 3600 seconds",
            ));
        }
        let processor = &order.processor;
        if processor.batch_size == 0 || processor.concurrency == 0 {
            return Err(ConfigError::invalid(
                "order.processor.batch_size",
                "batch_size and concurrency of at least 1",
            ));
        }
        if !(1..=64).contains(&processor.together) {
            return Err(ConfigError::invalid(
                "order.processor.together",
                "between 1 and 64 orders per group",
            ));
        }
        if processor.concurrency > 64 {
            return Err(ConfigError::invalid(
                "order.processor.concurrency",
                "at most 64 orders at once per instance",
            ));
        }
        if processor.retry_initial_ms == 0 || processor.retry_max_ms < processor.retry_initial_ms {
            return Err(ConfigError::invalid(
                "order.processor.retry_max_ms",
                "retry_initial_ms > 0 and retry_max_ms >= retry_initial_ms",
            ));
        }
        if base.auth.service_secret.is_none() && order.quote_token.is_none() {
            return Err(ConfigError::invalid(
                "order.quote_token",
                "a service token for quote when auth.service_secret is not set",
            ));
        }
        Ok(Self { base, order })
    }
}
