//! Builds the quote service from its settings: database (migrated), optional Redis, and
//! with a broker the outbox relay (`quote.events`) and the `catalog.events` consumer that
//! feeds the read model; then the HTTP server. `build` binds before returning so the caller
//! knows the port (tests bind port 0) and a port clash fails the start, not a request.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use platform::auth::Authenticator;
use platform::consumer::dead_letters::{self, DeadLetterAdmin};
use platform::consumer::{ConsumerHandle, ConsumerRuntime};
use platform::health::{DatabaseCheck, HealthChecks, KafkaCheck, RedisCheck};
use platform::http::{ServerParts, bind, openapi_skeleton, serve};
use platform::outbox::OutboxRelay;
use platform::redis::RedisHandle;
use platform::sequencer::{LocalSequencer, RedisSequencer, Sequencer, SequencerError};
use prometheus::Registry;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::catalog_client::CatalogClient;
use crate::catalog_events::{self, CONSUMER_GROUP};
use crate::configuration::Settings;
use crate::migrations::Migrator;
use crate::quoting::QuoteState;
use crate::routes;
use crate::store::SeaQuoteStore;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the database is unavailable: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("Redis is configured but unavailable: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the sequencer could not be created: {0}")]
    Sequencer(#[from] SequencerError),
    #[error("metrics could not be registered: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the HTTP server could not start: {0}")]
    Http(#[from] std::io::Error),
    #[error("the catalog client could not be created: {0}")]
    CatalogClient(#[from] reqwest::Error),
    #[error("the outbox relay could not start: {0}")]
    Relay(#[from] platform::outbox::RelayBuildError),
    #[error("the catalog.events consumer could not start: {0}")]
    Consumer(#[from] platform::consumer::ConsumerError),
    #[error("the broker client could not be created: {0}")]
    Broker(#[from] rdkafka::error::KafkaError),
}

/// The outbox relay running beside the HTTP server.
struct RunningRelay {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// How long the consumer may finish the events in hand when the service stops.
const CONSUMER_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    relay: Option<RunningRelay>,
    consumer: Option<ConsumerHandle>,
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
        let mut relay = None;
        let mut consumer = None;
        let mut dead_letter_admin = None;
        if kafka.is_configured() {
            kafka.ensure_topics_in_background(&[
                events::topics::QUOTE_EVENTS,
                events::topics::CATALOG_EVENTS,
            ]);
            health = health.with(KafkaCheck::new(kafka)?);
            let outbox = OutboxRelay::new(
                db.clone(),
                kafka,
                crate::published::PRODUCER,
                settings.base.outbox.clone(),
                &registry,
            )?;
            let stop = CancellationToken::new();
            let task = tokio::spawn(outbox.run(stop.clone()));
            relay = Some(RunningRelay { stop, task });

            consumer = Some(
                ConsumerRuntime::new(
                    kafka,
                    CONSUMER_GROUP,
                    &[events::topics::CATALOG_EVENTS],
                    db.clone(),
                    catalog_events::handlers(),
                    sequencer(&settings)?,
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
            relay,
            consumer,
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
        let result = self.server.await;
        if let Some(consumer) = self.consumer {
            // Events in hand are finished and their offsets committed; the rest is replayed.
            consumer.shutdown(CONSUMER_SHUTDOWN_GRACE).await;
        }
        if let Some(relay) = self.relay {
            // The batch in flight is finished and flushed; the rest waits in the outbox.
            relay.stop.cancel();
            if let Err(error) = relay.task.await {
                tracing::warn!(%error, "the outbox relay ended abnormally");
            }
        }
        if let Err(error) = self.db.close().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
        result
    }
}

/// One consumer's per-key order across instances: Redis when configured, else in-process.
fn sequencer(settings: &Settings) -> Result<Arc<dyn Sequencer>, SequencerError> {
    let ttl = Duration::from_millis(settings.base.sequencer.lease_ttl_ms);
    Ok(match &settings.base.redis.url {
        Some(url) if !url.expose_secret().trim().is_empty() => Arc::new(RedisSequencer::new(
            url.expose_secret(),
            &format!("{}:quote", settings.base.redis.key_prefix),
            ttl,
        )?),
        _ => Arc::new(LocalSequencer::new()),
    })
}
