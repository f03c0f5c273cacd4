//! Builds the catalog from its settings: database (migrated), optional Redis, optional seed,
//! then the HTTP server. `build` binds before returning so the caller knows the port (tests
//! bind port 0) and a port clash fails the start instead of the first request.

use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use platform::auth::Authenticator;
use platform::background::Background;
use platform::health::{DatabaseCheck, HealthChecks, KafkaCheck, RedisCheck};
use platform::http::{ServerParts, bind, openapi_skeleton, serve};
use platform::outbox::OutboxRelay;
use platform::redis::RedisHandle;
use prometheus::Registry;
use sea_orm::DatabaseConnection;

use crate::cache::ResponseCache;
use crate::configuration::Settings;
use crate::migrations::Migrator;
use crate::routes::{self, CatalogState};
use crate::seed::{self, SeedError};
use crate::store::SeaCatalogStore;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the database is unavailable: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("Redis is configured but unavailable: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("seeding failed: {0}")]
    Seed(#[from] SeedError),
    #[error("metrics could not be registered: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the HTTP server could not start: {0}")]
    Http(#[from] std::io::Error),
    #[error("the outbox relay could not start: {0}")]
    Relay(#[from] platform::outbox::RelayBuildError),
    #[error("the broker client could not be created: {0}")]
    Broker(#[from] rdkafka::error::KafkaError),
}

pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    background: Background,
    grace: std::time::Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = platform::db::connect(&settings.base.database).await?;
        if settings.base.database.migrate_on_start {
            platform::db::migrate::<Migrator>(&db).await?;
        }
        let store = Arc::new(SeaCatalogStore::new(db.clone()));
        if settings.catalog.seed_on_start {
            let report = seed::load(store.as_ref()).await?;
            tracing::info!(?report, "seed catalog loaded");
        }
        let redis = RedisHandle::connect(&settings.base.redis).await?;
        let registry = Registry::new();
        let cache =
            ResponseCache::new(redis.clone(), settings.catalog.cache_ttl_seconds, &registry)?;
        let mut health = HealthChecks::default().with(DatabaseCheck(db.clone()));
        if let Some(redis) = redis {
            health = health.with(RedisCheck(redis));
        }
        let kafka = &settings.base.kafka;
        let mut background = Background::new();
        if kafka.is_configured() {
            kafka.ensure_topics_in_background(&[events::topics::CATALOG_EVENTS]);
            health = health.with_advisory(KafkaCheck::new(kafka)?);
            background.relay(OutboxRelay::new(
                db.clone(),
                kafka,
                crate::published::PRODUCER,
                settings.base.outbox.clone(),
                &registry,
            )?);
        } else {
            tracing::warn!("no broker configured (kafka.brokers): events stay in the outbox");
        }
        let listener = bind(&settings.base.http)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(CatalogState {
            store,
            cache,
            http_max_age_seconds: settings.catalog.http_max_age_seconds,
        });
        let parts = ServerParts {
            http: settings.base.http.clone(),
            openapi: openapi_skeleton(
                "recommerce catalog",
                "Device models, variants, base prices and condition questionnaires.",
            ),
            authenticator: Authenticator::new(&settings.base.auth),
            health,
            metrics_registry: registry,
            metrics_namespace: "catalog",
        };
        let server = serve(listener, parts, move |cfg| {
            cfg.app_data(state.clone());
            routes::configure(cfg);
        })?;
        Ok(Self {
            port,
            server,
            db,
            background,
            grace: std::time::Duration::from_secs(settings.base.http.shutdown_grace_seconds),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from outside (tests, the dev runner).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, finishing in-flight requests within the grace period.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        platform::startup::run_until_stopped(self.server, self.background, self.db, self.grace)
            .await
    }
}
