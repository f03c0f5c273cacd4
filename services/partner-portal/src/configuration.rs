//! The portal's settings: the platform's shared sections plus `partner_portal.*`. Which
//! webhook targets are accepted depends on the profile when not set: a developer's run
//! (`recommerce dev`, compose) calls a receiver on the laptop over http; every other
//! profile accepts public https targets only unless told otherwise.

use platform::config::{
    BaseSettings, ConfigError, Layers, Profile, ServiceDefaults, ServiceSettings,
};
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
        let mut portal: PortalSettings = layers.section("partner_portal")?;
        let on_unless_set = |key: &str| {
            layers
                .raw()
                .get::<bool>(key)
                .unwrap_or(base.profile == Profile::Dev)
        };
        portal.webhooks.allow_private_targets =
            on_unless_set("partner_portal.webhooks.allow_private_targets");
        portal.webhooks.allow_plain_http =
            on_unless_set("partner_portal.webhooks.allow_plain_http");
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
        if hooks.allow_private_targets && base.profile == Profile::Production {
            tracing::warn!("partner_portal.webhooks.allow_private_targets is on in production");
        }
        if hooks.allow_plain_http && base.profile == Profile::Production {
            tracing::warn!("partner_portal.webhooks.allow_plain_http is on in production");
        }
        Ok(Self { base, portal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhook::TargetPolicy;

    fn policy_of(profile: &str, keys: &[(&str, bool)]) -> TargetPolicy {
        let mut layers = Layers::defaults(SERVICE)
            .and_then(|layers| layers.set("profile", profile))
            .and_then(|layers| {
                layers.set(
                    "auth.jwt_secret",
                    "a-production-secret-of-at-least-32-bytes",
                )
            })
            .and_then(|layers| {
                layers.set(
                    "auth.service_secret",
                    "a-production-service-secret-of-32-bytes",
                )
            })
            .unwrap();
        for (key, value) in keys {
            layers = layers.set(key, *value).unwrap();
        }
        Settings::from_layers(&layers)
            .unwrap()
            .portal
            .webhooks
            .target_policy()
    }

    #[test]
    fn the_dev_profile_lets_webhooks_call_a_local_receiver_over_http() {
        assert_eq!(policy_of("dev", &[]), TargetPolicy::LOCAL);
    }

    #[test]
    fn production_and_tests_accept_only_public_https_targets_unless_told() {
        assert_eq!(policy_of("production", &[]), TargetPolicy::STRICT);
        assert_eq!(policy_of("test", &[]), TargetPolicy::STRICT);
        assert_eq!(
            policy_of(
                "test",
                &[
                    ("partner_portal.webhooks.allow_private_targets", true),
                    ("partner_portal.webhooks.allow_plain_http", true),
                ]
            ),
            TargetPolicy::LOCAL
        );
    }

    #[test]
    fn a_dev_run_that_turns_local_targets_off_is_obeyed() {
        assert_eq!(
            policy_of(
                "dev",
                &[
                    ("partner_portal.webhooks.allow_private_targets", false),
                    ("partner_portal.webhooks.allow_plain_http", false),
                ]
            ),
            TargetPolicy::STRICT
        );
    }
}
