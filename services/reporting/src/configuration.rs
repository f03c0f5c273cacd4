//! Reporting's settings: the platform's shared sections plus `reporting.*`.

use platform::config::{BaseSettings, ConfigError, Layers, ServiceDefaults, ServiceSettings};
use serde::Deserialize;

pub const SERVICE: ServiceDefaults = ServiceDefaults {
    name: "reporting",
    port: 8086,
};

/// Longest range one report covers, in days: a year and a day, leap years included.
pub const MAX_RANGE_DAYS: i64 = 366;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ReportingSettings {
    /// An open order unchanged for longer than this is counted as stuck, unless the request
    /// says otherwise (the order service's `order.stuck_after_minutes` means the same).
    pub stuck_after_minutes: u32,
    /// Days a report covers when the request names no range (ending today, UTC).
    pub default_range_days: u32,
    /// How often every instance reads the time-in-status histogram from the projection.
    pub metrics_reading_seconds: u64,
}

impl Default for ReportingSettings {
    fn default() -> Self {
        Self {
            stuck_after_minutes: 60,
            default_range_days: 30,
            metrics_reading_seconds: 30,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub base: BaseSettings,
    pub reporting: ReportingSettings,
}

impl ServiceSettings for Settings {
    fn base(&self) -> &BaseSettings {
        &self.base
    }

    fn from_layers(layers: &Layers) -> Result<Self, ConfigError> {
        let base = layers.base()?;
        let reporting: ReportingSettings = layers.section("reporting")?;
        if !(1..=crate::domain::MAX_STUCK_AFTER_MINUTES).contains(&reporting.stuck_after_minutes) {
            return Err(ConfigError::invalid(
                "reporting.stuck_after_minutes",
                "between 1 minute and ten years",
            ));
        }
        if !(1..=MAX_RANGE_DAYS).contains(&i64::from(reporting.default_range_days)) {
            return Err(ConfigError::invalid(
                "reporting.default_range_days",
                "between 1 and 366",
            ));
        }
        if !(1..=3600).contains(&reporting.metrics_reading_seconds) {
            return Err(ConfigError::invalid(
                "reporting.metrics_reading_seconds",
                "between 1 and 3600",
            ));
        }
        Ok(Self { base, reporting })
    }
}
