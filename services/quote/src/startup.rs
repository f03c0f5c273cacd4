//! Builds the quote service from its settings: database (migrated), optional Redis, and
//! with a broker the outbox relay (`quote.events`) and the `catalog.events` consumer that
//! feeds the read model; then the HTTP server. `build` binds before returning so the caller
//! knows the port (tests bind port 0) and a port clash fails the start, not a request.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use platform::auth::Authenticator;
use platform::background::Background;
use platform::consumer::ConsumerRuntime;
use platform::consumer::dead_letters::{self, DeadLetterAdmin};
use platform::health::{DatabaseCheck, HealthChecks, KafkaCheck, RedisCheck};
use platform::http::{ServerParts, bind, openapi_skeleton, serve};
use platform::outbox::OutboxRelay;
use platform::redis::RedisHandle;
use prometheus::Registry;
use sea_orm::DatabaseConnection;

use crate::catalog_client::CatalogClient;
use crate::configuration::Settings;
use crate::consumers::{self, CONSUMER_GROUP};
use crate::migrations::Migrator;
use crate::quoting::QuoteState;
use crate::routes;
use crate::store::SeaQuoteStore;

pub use platform::startup::StartupError;

pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    background: Background,
    grace: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = platform::db::connect(&settings.base.database).await?;
        if settings.base.database.migrate_on_start {
            platform::db::migrate::<Migrator>(&db).await?;
        }
        let redis = RedisHandle::connect(&settings.base.redis).await?;
        let registry = Registry::new();
        let mut health = HealthChecks::default().with(DatabaseCheck(db.clone()));
        if let Some(redis) = redis {
            health = health.with(RedisCheck(redis));
        }

        let kafka = &settings.base.kafka;
        let mut background = Background::new();
        let mut dead_letter_admin = None;
        if kafka.is_configured() {
            kafka.ensure_topics_in_background(&[
                events::topics::QUOTE_EVENTS,
                events::topics::CATALOG_EVENTS,
            ]);
            health = health.with_advisory(KafkaCheck::new(kafka)?);
            background.relay(OutboxRelay::new(
                db.clone(),
                kafka,
                crate::published::PRODUCER,
                settings.base.outbox.clone(),
                &registry,
            )?);
            background.consumer(
                ConsumerRuntime::new(
                    kafka,
                    CONSUMER_GROUP,
                    &[events::topics::CATALOG_EVENTS],
                    db.clone(),
                    consumers::handlers(),
                    platform::sequencer::from_settings(
                        &settings.base.redis,
                        &settings.base.sequencer,
                        "quote",
                    )?,
                    &registry,
                )
                .with_settings(settings.base.consumer.clone())
                .start()?,
            );
            dead_letter_admin = Some(web::Data::new(DeadLetterAdmin::new(
                db.clone(),
                kafka,
                "quote-dead-letters",
            )?));
        } else {
            tracing::warn!(
                "no broker configured (kafka.brokers): events stay in the outbox and the \
                 catalog read model is filled only from the catalog's HTTP API"
            );
        }

        let listener = bind(&settings.base.http)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(QuoteState {
            store: Arc::new(SeaQuoteStore::new(db.clone())),
            catalog: CatalogClient::new(&settings.quote)?,
            settings: settings.quote.clone(),
        });
        let parts = ServerParts {
            http: settings.base.http.clone(),
            openapi: openapi_skeleton(
                "recommerce quote",
                "Prices a device from its variant, condition answers and pricing rules; \
                 holds the price for one order.",
            ),
            authenticator: Authenticator::new(&settings.base.auth),
            health,
            metrics_registry: registry,
            metrics_namespace: "quote",
        };
        let server = serve(listener, parts, move |cfg| {
            cfg.app_data(state.clone());
            routes::configure(cfg);
            if let Some(admin) = &dead_letter_admin {
                cfg.app_data(admin.clone());
                cfg.service(
                    utoipa_actix_web::scope::scope("/v1/admin/pricing")
                        .configure(dead_letters::configure),
                );
            }
        })?;
        Ok(Self {
            port,
            server,
            db,
            background,
            grace: Duration::from_secs(settings.base.http.shutdown_grace_seconds),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from outside (tests, the dev runner).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, finishing in-flight requests within the grace period,
    /// then stops the consumer and the relay and closes the database.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        platform::startup::run_until_stopped(self.server, self.background, self.db, self.grace)
            .await
    }
}
