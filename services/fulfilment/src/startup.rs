//! Builds the fulfilment service from its settings: database (migrated), sequencer, the
//! HTTP server, the reassigner and the re-pricing worker, and with a broker the outbox relay
//! and the consumer of `order.events` and `partner.events`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use platform::auth::{Authenticator, ServiceCredentials};
use platform::background::Background;
use platform::consumer::ConsumerRuntime;
use platform::consumer::dead_letters::DeadLetterAdmin;
use platform::due_work::{DueWorkRunner, DueWorkSettings, Periodic};
use platform::health::{DatabaseCheck, HealthChecks, KafkaCheck};
use platform::http::{ServerParts, bind, openapi_skeleton, serve};
use platform::outbox::OutboxRelay;
use platform::retry::RetryPolicy;
use prometheus::Registry;
use sea_orm::DatabaseConnection;

use crate::configuration::Settings;
use crate::consumers::{self, CONSUMER_GROUP};
use crate::migrations::Migrator;
use crate::quote_client::QuoteClient;
use crate::routes::{self, FulfilmentState};
use crate::store::PRODUCER;
use crate::workers::{PartnersChanged, REASSIGN, Reassigner, Requoter};

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
        let registry = Registry::new();
        let sequencer = platform::sequencer::from_settings(
            &settings.base.redis,
            &settings.base.sequencer,
            "fulfilment",
        )?;
        let authenticator = Authenticator::new(&settings.base.auth);
        let own = &settings.fulfilment;
        let credentials =
            ServiceCredentials::from_settings(&authenticator, own.quote_token.as_ref());
        let quotes = QuoteClient::new(
            &own.quote_url,
            Duration::from_millis(own.quote_timeout_ms),
            credentials,
        )?;
        let mut background = Background::new();
        let mut health = HealthChecks::default().with(DatabaseCheck(db.clone()));
        let kafka = &settings.base.kafka;
        let dead_letters = if kafka.is_configured() {
            kafka.ensure_topics_in_background(&[
                events::topics::ORDER_EVENTS,
                events::topics::PARTNER_EVENTS,
                events::topics::FULFILMENT_EVENTS,
            ]);
            health = health.with_advisory(KafkaCheck::new(kafka)?);
            background.relay(OutboxRelay::new(
                db.clone(),
                kafka,
                PRODUCER,
                settings.base.outbox.clone(),
                &registry,
            )?);
            let consumer = ConsumerRuntime::new(
                kafka,
                CONSUMER_GROUP,
                &[events::topics::ORDER_EVENTS, events::topics::PARTNER_EVENTS],
                db.clone(),
                consumers::handlers(),
                sequencer.clone(),
                &registry,
            )
            .with_settings(settings.base.consumer.clone())
            .start()?;
            background.consumer(consumer);
            Some(web::Data::new(DeadLetterAdmin::new(
                db.clone(),
                kafka,
                "fulfilment-dead-letters",
            )?))
        } else {
            tracing::warn!("no broker configured (kafka.brokers): events stay in the outbox");
            None
        };
        let reassigner = Arc::new(Reassigner {
            db: db.clone(),
            sequencer: sequencer.clone(),
            acceptance_window: Duration::from_secs(own.acceptance_window_seconds),
        });
        let reassign = Periodic::new(
            REASSIGN,
            Duration::from_millis(own.sweep_interval_ms),
            move || {
                let reassigner = reassigner.clone();
                async move {
                    reassigner
                        .sweep()
                        .await
                        .map_err(|error| format!("reassigning jobs failed: {error}"))
                }
            },
        );
        reassign.start_owing(&db).await?;
        // A failed round is tried again after one interval, then less and less often.
        let sweep = Duration::from_millis(own.sweep_interval_ms);
        let reassign_settings = reassign.settings(RetryPolicy::new(sweep, sweep * 8));
        let reassign = DueWorkRunner::new(db.clone(), Arc::new(reassign), reassign_settings);
        let partners_changed = PartnersChanged {
            db: db.clone(),
            waker: reassign.waker(),
        };
        background.spawn("job reassigner", |stop| reassign.run(stop));
        let requoter = Requoter {
            db: db.clone(),
            sequencer: sequencer.clone(),
            quotes,
            retry: own.requote.policy(),
        };
        let requote_settings = DueWorkSettings {
            retry_initial_ms: own.requote.retry_initial_ms,
            retry_max_ms: own.requote.retry_max_ms,
            ..DueWorkSettings::default()
        };
        let requote = DueWorkRunner::new(db.clone(), Arc::new(requoter), requote_settings);
        background.spawn("inspection re-pricing", |stop| requote.run(stop));

        let listener = bind(&settings.base.http)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(FulfilmentState {
            db: db.clone(),
            sequencer: sequencer.clone(),
            partners_changed,
        });
        let parts = ServerParts {
            http: settings.base.http.clone(),
            openapi: openapi_skeleton(
                "recommerce fulfilment",
                "Partners, and the pickup, inspection and return jobs they do.",
            ),
            authenticator,
            health,
            metrics_registry: registry,
            metrics_namespace: "fulfilment",
        };
        let server = serve(listener, parts, move |cfg| {
            cfg.app_data(state.clone());
            if let Some(dead_letters) = &dead_letters {
                cfg.app_data(dead_letters.clone());
            }
            routes::configure(cfg, dead_letters.is_some());
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

    /// Serves until SIGINT/SIGTERM or [`Application::handle`] stops it, finishing in-flight
    /// requests, then stops the background work in order.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        platform::startup::run_until_stopped(self.server, self.background, self.db, self.grace)
            .await
    }
}
