//! Settings are layered defaults → optional file → environment, so one binary runs unchanged
//! on a laptop, in CI and in k8s. They are validated once, at start: a wrong value stops the
//! service with the key, its environment variable and what was expected, instead of failing
//! on first use in the middle of a request.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Prefix of every environment variable: `APP_HTTP__PORT` sets `http.port`.
pub const ENV_PREFIX: &str = "APP";
/// Names a TOML file layered between the defaults and the environment.
pub const CONFIG_FILE_ENV: &str = "APP_CONFIG_FILE";
/// The HS256 secret the dev profile falls back to. Never valid in production.
pub const DEV_JWT_SECRET: &str = "dev-only-insecure-jwt-secret-change-me-0123456789";
/// The service-token secret the dev profile falls back to. Never valid in production.
pub const DEV_SERVICE_SECRET: &str = "dev-only-insecure-service-secret-change-me-987654";
/// Who users' tokens name as issuer and audience unless configured (our own HS256 tokens).
pub const DEFAULT_ISSUER: &str = "recommerce";
pub const DEFAULT_AUDIENCE: &str = "recommerce-api";
/// `http.sustained_in_flight` unless configured (test settings turn it off; benchmarks
/// measure with it).
pub const DEFAULT_SUSTAINED_IN_FLIGHT: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be loaded: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}` (env {env}): {expected}")]
    Invalid {
        key: String,
        env: String,
        expected: String,
    },
}

impl ConfigError {
    pub fn invalid(key: &str, expected: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            env: env_var_for(key),
            expected: expected.into(),
        }
    }
}

/// The environment variable that sets `key`.
pub fn env_var_for(key: &str) -> String {
    format!("{ENV_PREFIX}_{}", key.to_uppercase().replace('.', "__"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A developer's machine: dev defaults for secrets are allowed.
    Dev,
    /// The test suite: like production, but tests set their own secrets.
    Test,
    /// Anything real: refuses dev defaults.
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BaseSettings {
    pub profile: Profile,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub telemetry: TelemetrySettings,
    #[serde(default)]
    pub kafka: crate::kafka::KafkaSettings,
    #[serde(default)]
    pub outbox: crate::outbox::RelaySettings,
    #[serde(default)]
    pub consumer: crate::consumer::ConsumerSettings,
    #[serde(default)]
    pub sequencer: SequencerSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SequencerSettings {
    /// How long a crashed holder can block its key; renewed while the holder works.
    pub lease_ttl_ms: u64,
    /// How long taking a key's lease keeps trying while Redis does not answer; then the
    /// caller gets 503 `coordinator_unavailable` (background work retries later).
    pub unavailable_after_ms: u64,
}

impl Default for SequencerSettings {
    fn default() -> Self {
        Self {
            lease_ttl_ms: 10_000,
            unavailable_after_ms: 2_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub max_body_bytes: usize,
    pub shutdown_grace_seconds: u64,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Connections the kernel holds for the server before it accepts them; the kernel caps
    /// it at `net.core.somaxconn`. Past it, a client's connection attempt is dropped and
    /// retried a second or more later, so a burst of new connections needs room here.
    pub listen_backlog: u32,
    /// Requests one instance serves at once; past it, 503 `overloaded`. 0: no cap.
    pub max_in_flight: usize,
    /// Extra places for the service's priority routes (order placement): shed last.
    pub priority_reserve: usize,
    /// Requests in flight the service keeps to under sustained overload: past it for longer
    /// than `overload_grace_ms`, 503 `overloaded` past it until the count falls to half.
    /// 0: only `max_in_flight` applies.
    pub sustained_in_flight: usize,
    /// How long requests may stay at or past `sustained_in_flight` (a storage stall, a
    /// burst) before the service keeps to it.
    pub overload_grace_ms: u64,
    /// Requests in flight above which the service's background work (relay, consumers, due
    /// work) waits for them, each unit up to 250 ms. 0: it never waits.
    pub yield_background_above: usize,
    /// Requests per second per principal (token subject); past it, 429 `rate_limited`.
    pub rate_limit: crate::admission::RateLimitSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://path?mode=rwc` or `postgres://user:pass@host/db`. Secret: it may hold a password.
    pub url: SecretString,
    pub max_connections: u32,
    /// Of `max_connections`, the connections background work (consumers, relay, due work)
    /// runs on; requests have the rest to themselves. SQLite has one connection for all.
    pub background_connections: u32,
    pub connect_timeout_seconds: u64,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    /// Unset (or empty) means the service runs without Redis.
    pub url: Option<SecretString>,
    /// Prepended to every key, so several deployments (or tests) can share one Redis.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct AuthSettings {
    /// HS256 secret of users' tokens we sign ourselves. The dev profile falls back to
    /// [`DEV_JWT_SECRET`].
    pub jwt_secret: Option<SecretString>,
    /// HS256 secret of service-to-service tokens, which may carry only the `service` role.
    /// Must differ from `jwt_secret` in production, so a service can call another without
    /// being able to sign a user's (or an admin's) token.
    pub service_secret: Option<SecretString>,
    /// JWKS URL of an OIDC provider, for RS256 tokens.
    pub jwks_url: Option<String>,
    /// How long a fetched key set is trusted before it is fetched again, so a key the
    /// provider removed stops working.
    pub jwks_cache_seconds: u64,
    /// The `iss` users' tokens must carry ([`DEFAULT_ISSUER`] unless set).
    pub issuer: Option<String>,
    /// The `aud` users' tokens must carry ([`DEFAULT_AUDIENCE`] unless set).
    pub audience: Option<String>,
    pub leeway_seconds: u64,
    /// How long a service trusts what it last read about a subject's revoked tokens: the
    /// longest a disabled user's token keeps working in a service that is not the portal.
    pub revocation_cache_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// An `EnvFilter` directive, e.g. `info,sqlx=warn`.
    pub log_level: String,
    /// OTLP/HTTP traces endpoint, e.g. `http://otel-collector:4318/v1/traces`. Unset = off.
    pub otlp_endpoint: Option<String>,
}

/// The raw layered configuration of one service, before it is split into typed sections.
#[derive(Debug, Clone)]
pub struct Layers {
    raw: config::Config,
}

/// A service's settings: the sections every service shares and its own, loaded from layers
/// (defaults → file → `APP_*` environment) and validated before anything starts.
pub trait ServiceSettings: Sized + Send + 'static {
    fn from_layers(layers: &Layers) -> Result<Self, ConfigError>;
    fn base(&self) -> &BaseSettings;
}

/// What differs between services in the defaults.
#[derive(Debug, Clone, Copy)]
pub struct ServiceDefaults {
    pub name: &'static str,
    pub port: u16,
}

impl Layers {
    /// Loads defaults, then the file named by `APP_CONFIG_FILE` (or `file`), then `APP_*`.
    pub fn load(service: ServiceDefaults, file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let file = file.or_else(|| std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from));
        Self::load_from(service, file, true)
    }

    /// Only what the operator supplied (file, then `APP_*`), without defaults: what a
    /// configuration check holds against the keys a service knows.
    pub fn supplied(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let file = file.or_else(|| std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from));
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        Ok(Self {
            raw: builder.add_source(environment_source()).build()?,
        })
    }

    /// Defaults only (plus an optional file): for tests that must not see the environment.
    pub fn defaults(service: ServiceDefaults) -> Result<Self, ConfigError> {
        Self::load_from(service, None, false)
    }

    fn load_from(
        service: ServiceDefaults,
        file: Option<PathBuf>,
        environment: bool,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .set_default("profile", "production")?
            .set_default("http.host", "127.0.0.1")?
            .set_default("http.port", i64::from(service.port))?
            .set_default("http.max_body_bytes", 64 * 1024)?
            .set_default("http.shutdown_grace_seconds", 25)?
            .set_default("http.workers", 0)?
            .set_default("http.listen_backlog", 4096)?
            .set_default("http.max_in_flight", 256)?
            .set_default("http.priority_reserve", 64)?
            .set_default(
                "http.sustained_in_flight",
                DEFAULT_SUSTAINED_IN_FLIGHT as u64,
            )?
            .set_default("http.overload_grace_ms", 200)?
            .set_default("http.yield_background_above", 4)?
            .set_default("http.rate_limit.per_second", 50)?
            .set_default("http.rate_limit.burst", 100)?
            .set_default(
                "database.url",
                format!("sqlite://data/{}.db?mode=rwc", service.name),
            )?
            .set_default("database.max_connections", 10)?
            .set_default("database.background_connections", 3)?
            .set_default("database.connect_timeout_seconds", 5)?
            .set_default("database.migrate_on_start", true)?
            .set_default("redis.key_prefix", "recommerce")?
            .set_default("auth.leeway_seconds", 30)?
            .set_default("auth.jwks_cache_seconds", 300)?
            .set_default("auth.revocation_cache_ms", 2000)?
            .set_default("telemetry.log_format", "pretty")?
            .set_default("telemetry.log_level", "info")?;
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        if environment {
            builder = builder.add_source(environment_source());
        }
        Ok(Self {
            raw: builder.build()?,
        })
    }

    /// Overrides one key, as if it came from the environment (used by CLI flags and tests).
    pub fn set(self, key: &str, value: impl Into<config::Value>) -> Result<Self, ConfigError> {
        let raw = config::Config::builder()
            .add_source(self.raw)
            .set_override(key, value)?
            .build()?;
        Ok(Self { raw })
    }

    /// The operator's `APP_*` variables over what is set so far: a benchmark's services
    /// take a setting to try the way `recommerce serve` would.
    pub fn with_environment(self) -> Result<Self, ConfigError> {
        let raw = config::Config::builder()
            .add_source(self.raw)
            .add_source(environment_source())
            .build()?;
        Ok(Self { raw })
    }

    /// The settings every service shares, validated.
    pub fn base(&self) -> Result<BaseSettings, ConfigError> {
        let settings: BaseSettings = self.raw.clone().try_deserialize()?;
        settings.validated()
    }

    /// A section without defaults of its own (the edge reads `http` and `telemetry` alone).
    pub fn required<T: DeserializeOwned>(&self, key: &str) -> Result<T, ConfigError> {
        Ok(self.raw.get::<T>(key)?)
    }

    /// Everything as loaded, for tools that inspect keys rather than read settings.
    pub fn raw(&self) -> &config::Config {
        &self.raw
    }

    /// A service's own section, e.g. `catalog`. Missing keys fall back to `T::default()`.
    pub fn section<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, ConfigError> {
        match self.raw.get::<T>(key) {
            Ok(section) => Ok(section),
            Err(config::ConfigError::NotFound(_)) => Ok(T::default()),
            Err(other) => Err(other.into()),
        }
    }
}

fn environment_source() -> config::Environment {
    config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("_")
        .separator("__")
}

fn is_unset(value: Option<&SecretString>) -> bool {
    value.is_none_or(|secret| secret.expose_secret().trim().is_empty())
}

impl BaseSettings {
    fn validated(mut self) -> Result<Self, ConfigError> {
        if self.http.max_body_bytes == 0 || self.http.max_body_bytes > 16 * 1024 * 1024 {
            return Err(ConfigError::invalid(
                "http.max_body_bytes",
                "a size in bytes between 1 and 16777216",
            ));
        }
        let url = self.database.url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "database.url",
                "a URL starting with sqlite:, postgres:// or postgresql://",
            ));
        }
        if self.database.max_connections < 2 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "at least 2 (requests and background work each need one)",
            ));
        }
        if self.database.background_connections == 0
            || self.database.background_connections >= self.database.max_connections
        {
            return Err(ConfigError::invalid(
                "database.background_connections",
                "at least 1 and fewer than database.max_connections",
            ));
        }
        if is_unset(self.redis.url.as_ref()) {
            self.redis.url = None;
        } else if let Some(url) = &self.redis.url
            && !(url.expose_secret().starts_with("redis://")
                || url.expose_secret().starts_with("rediss://"))
        {
            return Err(ConfigError::invalid(
                "redis.url",
                "a URL starting with redis:// or rediss://, or nothing to run without Redis",
            ));
        }
        self.auth = self.auth.validated(self.profile)?;
        if self.outbox.max_attempts == 0 {
            return Err(ConfigError::invalid("outbox.max_attempts", "at least 1"));
        }
        if self.outbox.batch_size == 0 || self.outbox.batch_size > 10_000 {
            return Err(ConfigError::invalid(
                "outbox.batch_size",
                "between 1 and 10000",
            ));
        }
        if self.consumer.max_attempts == 0 {
            return Err(ConfigError::invalid("consumer.max_attempts", "at least 1"));
        }
        if !(100..=3_600_000).contains(&self.consumer.readings_interval_ms) {
            return Err(ConfigError::invalid(
                "consumer.readings_interval_ms",
                "between 100 ms and an hour",
            ));
        }
        if self.consumer.gap_timeout_ms < 1_000 {
            return Err(ConfigError::invalid(
                "consumer.gap_timeout_ms",
                "at least 1000 ms (two relays may reorder an aggregate's events briefly)",
            ));
        }
        if self.sequencer.lease_ttl_ms < 100 {
            return Err(ConfigError::invalid(
                "sequencer.lease_ttl_ms",
                "at least 100 ms",
            ));
        }
        if self.sequencer.unavailable_after_ms == 0 {
            return Err(ConfigError::invalid(
                "sequencer.unavailable_after_ms",
                "at least 1 ms",
            ));
        }
        if self.kafka.is_configured() && self.kafka.topic_partitions < 1 {
            return Err(ConfigError::invalid("kafka.topic_partitions", "at least 1"));
        }
        if let Some((key, expected)) = self.kafka.group_settings_problem() {
            return Err(ConfigError::invalid(key, expected));
        }
        self.kafka.group_instance_id = self.kafka.instance_id().map(str::to_owned);
        self.telemetry.otlp_endpoint = self
            .telemetry
            .otlp_endpoint
            .filter(|endpoint| !endpoint.trim().is_empty());
        if let Some(endpoint) = &self.telemetry.otlp_endpoint
            && !is_http_url(endpoint)
        {
            return Err(ConfigError::invalid(
                "telemetry.otlp_endpoint",
                "an http:// or https:// URL, or nothing to turn tracing export off",
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.telemetry.log_level).is_err() {
            return Err(ConfigError::invalid(
                "telemetry.log_level",
                "a tracing filter such as `info` or `info,sqlx=warn`",
            ));
        }
        Ok(self)
    }

    pub fn is_postgres(&self) -> bool {
        !self.database.url.expose_secret().starts_with("sqlite:")
    }
}

fn is_http_url(value: &str) -> bool {
    value.starts_with("http://") || value.starts_with("https://")
}

impl AuthSettings {
    fn validated(mut self, profile: Profile) -> Result<Self, ConfigError> {
        if is_unset(self.jwt_secret.as_ref()) {
            self.jwt_secret = None;
        }
        self.jwks_url = self.jwks_url.filter(|url| !url.trim().is_empty());
        if let Some(url) = &self.jwks_url
            && !is_http_url(url)
        {
            return Err(ConfigError::invalid(
                "auth.jwks_url",
                "an http:// or https:// URL of a JWKS document",
            ));
        }
        match (&self.jwt_secret, profile) {
            (None, Profile::Dev) => {
                self.jwt_secret = Some(SecretString::from(DEV_JWT_SECRET));
            }
            (None, _) if self.jwks_url.is_none() => {
                return Err(ConfigError::invalid(
                    "auth.jwt_secret",
                    "an HS256 secret of at least 32 bytes (or set auth.jwks_url); \
                     only the dev profile has a default",
                ));
            }
            (Some(secret), Profile::Production) if secret.expose_secret() == DEV_JWT_SECRET => {
                return Err(ConfigError::invalid(
                    "auth.jwt_secret",
                    "a real secret: the dev default is refused in the production profile",
                ));
            }
            (Some(secret), Profile::Production | Profile::Test)
                if secret.expose_secret().len() < 32 =>
            {
                return Err(ConfigError::invalid(
                    "auth.jwt_secret",
                    "at least 32 bytes of secret",
                ));
            }
            _ => {}
        }
        self.service_secret = self.validated_service_secret(profile)?;
        self.issuer = Some(non_empty_or(self.issuer.take(), DEFAULT_ISSUER));
        self.audience = Some(non_empty_or(self.audience.take(), DEFAULT_AUDIENCE));
        if self.jwks_cache_seconds == 0 || self.jwks_cache_seconds > 86_400 {
            return Err(ConfigError::invalid(
                "auth.jwks_cache_seconds",
                "between 1 and 86400 seconds",
            ));
        }
        if self.revocation_cache_ms > 60_000 {
            return Err(ConfigError::invalid(
                "auth.revocation_cache_ms",
                "at most 60000 (it bounds how long a revoked token keeps working)",
            ));
        }
        Ok(self)
    }

    /// Dev falls back to a marked dev secret and tests to one derived from theirs, so suites
    /// need not set two; production must set its own, distinct from users' secret.
    fn validated_service_secret(
        &self,
        profile: Profile,
    ) -> Result<Option<SecretString>, ConfigError> {
        let key = "auth.service_secret";
        let secret = self
            .service_secret
            .clone()
            .filter(|secret| !is_unset(Some(secret)));
        match (secret, profile) {
            (None, Profile::Dev) => Ok(Some(SecretString::from(DEV_SERVICE_SECRET))),
            (None, Profile::Test) => Ok(self.jwt_secret.as_ref().map(|users| {
                SecretString::from(format!(
                    "service-tokens-of-the-test-profile:{}",
                    users.expose_secret()
                ))
            })),
            (None, Profile::Production) => Err(ConfigError::invalid(
                key,
                "an HS256 secret of at least 32 bytes for service-to-service tokens, \
                 different from auth.jwt_secret; only the dev profile has a default",
            )),
            (Some(secret), Profile::Production) if secret.expose_secret() == DEV_SERVICE_SECRET => {
                Err(ConfigError::invalid(
                    key,
                    "a real secret: the dev default is refused in the production profile",
                ))
            }
            (Some(secret), Profile::Production | Profile::Test)
                if secret.expose_secret().len() < 32 =>
            {
                Err(ConfigError::invalid(key, "at least 32 bytes of secret"))
            }
            (Some(secret), _)
                if self
                    .jwt_secret
                    .as_ref()
                    .is_some_and(|users| users.expose_secret() == secret.expose_secret()) =>
            {
                Err(ConfigError::invalid(
                    key,
                    "a secret different from auth.jwt_secret: whoever holds the service \
                     secret must not be able to sign users' tokens",
                ))
            }
            (Some(secret), _) => Ok(Some(secret)),
        }
    }
}

fn non_empty_or(value: Option<String>, default: &str) -> String {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: ServiceDefaults = ServiceDefaults {
        name: "probe",
        port: 9999,
    };

    fn layers() -> Layers {
        Layers::defaults(SERVICE).unwrap()
    }

    fn error_of(layers: Layers) -> String {
        layers.base().unwrap_err().to_string()
    }

    #[test]
    fn environment_variable_names_follow_the_key_path() {
        assert_eq!(env_var_for("http.port"), "APP_HTTP__PORT");
        assert_eq!(env_var_for("auth.jwt_secret"), "APP_AUTH__JWT_SECRET");
    }

    #[test]
    fn production_without_a_secret_names_the_missing_key() {
        let message = error_of(layers());
        assert!(message.contains("auth.jwt_secret"), "{message}");
        assert!(message.contains("APP_AUTH__JWT_SECRET"), "{message}");
    }

    #[test]
    fn production_refuses_the_dev_secret() {
        let message = error_of(layers().set("auth.jwt_secret", DEV_JWT_SECRET).unwrap());
        assert!(
            message.contains("refused in the production profile"),
            "{message}"
        );
    }

    #[test]
    fn dev_profile_falls_back_to_the_dev_secret() {
        let settings = layers().set("profile", "dev").unwrap().base().unwrap();
        let secret = settings.auth.jwt_secret.unwrap();
        assert_eq!(secret.expose_secret(), DEV_JWT_SECRET);
    }

    #[test]
    fn a_port_that_is_not_a_number_names_the_key() {
        let message = error_of(
            layers()
                .set("profile", "dev")
                .unwrap()
                .set("http.port", "eighty")
                .unwrap(),
        );
        assert!(message.contains("http.port"), "{message}");
    }

    #[test]
    fn an_unknown_profile_is_refused() {
        let message = error_of(layers().set("profile", "staging").unwrap());
        assert!(message.contains("profile"), "{message}");
    }

    #[test]
    fn a_database_url_of_an_unknown_kind_is_refused() {
        let message = error_of(
            layers()
                .set("profile", "dev")
                .unwrap()
                .set("database.url", "mysql://localhost/x")
                .unwrap(),
        );
        assert!(message.contains("database.url"), "{message}");
    }

    #[test]
    fn a_heartbeat_not_below_the_session_timeout_is_refused() {
        let message = error_of(
            layers()
                .set("profile", "dev")
                .unwrap()
                .set("kafka.session_timeout_ms", "2000")
                .unwrap()
                .set("kafka.heartbeat_interval_ms", "2000")
                .unwrap(),
        );
        assert!(message.contains("kafka.heartbeat_interval_ms"), "{message}");
        assert!(
            message.contains("below kafka.session_timeout_ms"),
            "{message}"
        );
    }

    #[test]
    fn mixed_assignment_strategies_are_refused_and_an_empty_instance_id_is_none() {
        let message = error_of(
            layers()
                .set("profile", "dev")
                .unwrap()
                .set("kafka.assignment_strategy", "cooperative-sticky,range")
                .unwrap(),
        );
        assert!(message.contains("kafka.assignment_strategy"), "{message}");
        let settings = layers()
            .set("profile", "dev")
            .unwrap()
            .set("kafka.group_instance_id", "")
            .unwrap()
            .base()
            .unwrap();
        assert!(settings.kafka.group_instance_id.is_none());
    }

    #[test]
    fn an_empty_redis_url_means_no_redis() {
        let settings = layers()
            .set("profile", "dev")
            .unwrap()
            .set("redis.url", "")
            .unwrap()
            .base()
            .unwrap();
        assert!(settings.redis.url.is_none());
    }

    #[test]
    fn a_file_layer_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("probe.toml");
        std::fs::write(&path, "profile = \"dev\"\n[http]\nport = 4242\n").unwrap();
        let settings = Layers::load_from(SERVICE, Some(path), false)
            .unwrap()
            .base()
            .unwrap();
        assert_eq!(settings.http.port, 4242);
    }
}
