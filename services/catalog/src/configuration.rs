//! The catalog's settings: the platform's shared sections plus `catalog.*`.

use platform::config::{BaseSettings, ConfigError, Layers, ServiceDefaults, ServiceSettings};
use serde::Deserialize;

pub const SERVICE: ServiceDefaults = ServiceDefaults {
    name: "catalog",
    port: 8081,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CatalogSettings {
    /// How long a browse response may sit in Redis. Admin writes invalidate earlier.
    pub cache_ttl_seconds: u64,
    /// `Cache-Control: max-age` on public browse responses.
    pub http_max_age_seconds: u32,
    /// Load the seed catalog at start (idempotent); the dev run turns it on.
    pub seed_on_start: bool,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            cache_ttl_seconds: 300,
            http_max_age_seconds: 60,
            seed_on_start: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub base: BaseSettings,
    pub catalog: CatalogSettings,
}

impl ServiceSettings for Settings {
    fn base(&self) -> &BaseSettings {
        &self.base
    }

    /// The shared sections and its own, validated.
    fn from_layers(layers: &Layers) -> Result<Self, ConfigError> {
        let base = layers.base()?;
        let catalog: CatalogSettings = layers.section("catalog")?;
        if !(1..=86_400).contains(&catalog.cache_ttl_seconds) {
            return Err(ConfigError::invalid(
                "catalog.cache_ttl_seconds",
                "between 1 and 86400 seconds",
            ));
        }
        if catalog.http_max_age_seconds > 86_400 {
            return Err(ConfigError::invalid(
                "catalog.http_max_age_seconds",
                "between 0 and 86400 seconds",
            ));
        }
        Ok(Self { base, catalog })
    }
}
