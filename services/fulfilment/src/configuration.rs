//! The fulfilment service's settings: the platform's shared sections plus `fulfilment.*`.

use platform::config::{BaseSettings, ConfigError, Layers, ServiceDefaults, ServiceSettings};
use secrecy::SecretString;
use serde::Deserialize;

use crate::workers::RetrySettings;

pub const SERVICE: ServiceDefaults = ServiceDefaults {
    name: "fulfilment",
    port: 8084,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FulfilmentSettings {
    /// Where the quote service answers (re-pricing after inspection).
    pub quote_url: String,
    pub quote_timeout_ms: u64,
    /// A `service` token for quote when this service cannot sign one (JWKS deployments).
    pub quote_token: Option<SecretString>,
    /// How long a partner has to accept an offer before it goes to another.
    pub acceptance_window_seconds: u64,
    /// How often lapsed offers and unassigned jobs are looked at.
    pub sweep_interval_ms: u64,
    pub requote: RetrySettings,
    /// How often each instance counts open jobs by partner (`fulfilment_open_jobs`).
    pub jobs_reading_seconds: u64,
}

impl Default for FulfilmentSettings {
    fn default() -> Self {
        Self {
            quote_url: "http://127.0.0.1:8082".into(),
            quote_timeout_ms: 3_000,
            quote_token: None,
            acceptance_window_seconds: 1_800,
            sweep_interval_ms: 5_000,
            requote: RetrySettings::default(),
            jobs_reading_seconds: 30,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub base: BaseSettings,
    pub fulfilment: FulfilmentSettings,
}

impl ServiceSettings for Settings {
    fn base(&self) -> &BaseSettings {
        &self.base
    }

    /// The shared sections and its own, validated.
    fn from_layers(layers: &Layers) -> Result<Self, ConfigError> {
        let base = layers.base()?;
        let fulfilment: FulfilmentSettings = layers.section("fulfilment")?;
        let url = &fulfilment.quote_url;
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(ConfigError::invalid(
                "fulfilment.quote_url",
                "an http(s) URL",
            ));
        }
        if !(100..=60_000).contains(&fulfilment.quote_timeout_ms) {
            return Err(ConfigError::invalid(
                "fulfilment.quote_timeout_ms",
                "between 100 and 60000 milliseconds",
            ));
        }
        if !(1..=7 * 24 * 3600).contains(&fulfilment.acceptance_window_seconds) {
            return Err(ConfigError::invalid(
                "fulfilment.acceptance_window_seconds",
                "between 1 second and 7 days",
            ));
        }
        if !(10..=600_000).contains(&fulfilment.sweep_interval_ms) {
            return Err(ConfigError::invalid(
                "fulfilment.sweep_interval_ms",
                "between 10 and 600000 milliseconds",
            ));
        }
        if !(1..=3600).contains(&fulfilment.jobs_reading_seconds) {
            return Err(ConfigError::invalid(
                "fulfilment.jobs_reading_seconds",
                "between 1 and 3600 seconds",
            ));
        }
        let retry = &fulfilment.requote;
        if retry.retry_initial_ms == 0 || retry.retry_max_ms < retry.retry_initial_ms {
            return Err(ConfigError::invalid(
                "fulfilment.requote.retry_max_ms",
                "retry_initial_ms ≥ 1 and retry_max_ms ≥ retry_initial_ms",
            ));
        }
        Ok(Self { base, fulfilment })
    }
}
