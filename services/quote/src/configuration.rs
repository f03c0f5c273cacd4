//! The quote service's settings: the platform's shared sections plus `quote.*`.

use platform::config::{BaseSettings, ConfigError, Layers, ServiceDefaults, ServiceSettings};
use serde::Deserialize;

pub const SERVICE: ServiceDefaults = ServiceDefaults {
    name: "quote",
    port: 8082,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct QuoteSettings {
    /// Base URL of the catalog, asked when the local read model misses a variant.
    pub catalog_url: String,
    /// How long a quote holds its price.
    pub validity_hours: u32,
    /// Timeout of one catalog request.
    pub catalog_timeout_ms: u64,
    /// Retries after a failed catalog request (so `retries + 1` attempts), with backoff.
    pub catalog_retries: u32,
    /// The minimum price of any quote, in minor units (never above the variant's base price).
    pub floor_price_minor: i64,
}

impl Default for QuoteSettings {
    fn default() -> Self {
        Self {
            catalog_url: "http://127.0.0.1:8081".to_owned(),
            validity_hours: 168,
            catalog_timeout_ms: 2_000,
            catalog_retries: 2,
            floor_price_minor: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub base: BaseSettings,
    pub quote: QuoteSettings,
}

impl ServiceSettings for Settings {
    fn base(&self) -> &BaseSettings {
        &self.base
    }

    /// The shared sections and its own, validated.
    fn from_layers(layers: &Layers) -> Result<Self, ConfigError> {
        let base = layers.base()?;
        let quote: QuoteSettings = layers.section("quote")?;
        let url_ok = reqwest::Url::parse(&quote.catalog_url)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
        if !url_ok {
            return Err(ConfigError::invalid(
                "quote.catalog_url",
                "an http:// or https:// URL, e.g. http://catalog:8081",
            ));
        }
        if !(1..=24 * 90).contains(&quote.validity_hours) {
            return Err(ConfigError::invalid(
                "quote.validity_hours",
                "between 1 and 2160 hours (90 days)",
            ));
        }
        if !(50..=60_000).contains(&quote.catalog_timeout_ms) {
            return Err(ConfigError::invalid(
                "quote.catalog_timeout_ms",
                "between 50 and 60000 milliseconds",
            ));
        }
        if quote.catalog_retries > 10 {
            return Err(ConfigError::invalid(
                "quote.catalog_retries",
                "between 0 and 10",
            ));
        }
        if quote.floor_price_minor < 0 {
            return Err(ConfigError::invalid(
                "quote.floor_price_minor",
                "0 or more minor units",
            ));
        }
        Ok(Self { base, quote })
    }
}
