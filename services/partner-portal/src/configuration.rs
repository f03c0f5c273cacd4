//! The portal's settings: the platform's shared sections plus `portal.*`.

use platform::config::{BaseSettings, ConfigError, Layers, ServiceDefaults, ServiceSettings};
use serde::Deserialize;

use crate::workers::WebhookSettings;

pub const SERVICE: ServiceDefaults = ServiceDefaults {
    name: "partner-portal",
    port: 8085,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PortalSettings {
    /// Lifetime of the tokens admins issue to partner users.
    pub user_token_ttl_seconds: u64,
    pub webhooks: WebhookSettings,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            user_token_ttl_seconds: 8 * 3600,
            webhooks: WebhookSettings::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub base: BaseSettings,
    pub portal: PortalSettings,
}

impl ServiceSettings for Settings {
    fn base(&self) -> &BaseSettings {
        &self.base
    }

    /// The shared sections and its own, validated.
    fn from_layers(layers: &Layers) -> Result<Self, ConfigError> {
        let base = layers.base()?;
        let portal: PortalSettings = layers.section("partner_portal")?;
        if !(60..=30 * 24 * 3600).contains(&portal.user_token_ttl_seconds) {
            return Err(ConfigError::invalid(
                "partner_portal.user_token_ttl_seconds",
                "between 60 seconds and 30 days",
            ));
        }
        let hooks = &portal.webhooks;
        if !(100..=60_000).contains(&hooks.timeout_ms) {
            return Err(ConfigError::invalid(
                "partner_portal.webhooks.timeout_ms",
                "between 100 and 60000 milliseconds",
            ));
        }
        if hooks.retry_initial_ms == 0 || hooks.retry_max_ms < hooks.retry_initial_ms {
            return Err(ConfigError::invalid(
                "partner_portal.webhooks.retry_max_ms",
                "retry_initial_ms ≥ 1 and retry_max_ms ≥ retry_initial_ms",
            ));
        }
        if !(1..=50).contains(&hooks.max_attempts) {
            return Err(ConfigError::invalid(
                "partner_portal.webhooks.max_attempts",
                "between 1 and 50",
            ));
        }
        if hooks.allow_private_targets && base.profile == platform::config::Profile::Production {
            tracing::warn!("partner_portal.webhooks.allow_private_targets is on in production");
        }
        Ok(Self { base, portal })
    }
}
