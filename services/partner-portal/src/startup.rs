//! Builds the portal from its settings: database (migrated), sequencer, the HTTP server,
//! the webhook deliverer, and with a broker the outbox relay and the `fulfilment.events`
//! consumer. Partners' reports need only the database.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use platform::auth::Authenticator;
use platform::background::Background;
use platform::consumer::ConsumerRuntime;
use platform::consumer::dead_letters::DeadLetterAdmin;
use platform::due_work::DueWorkRunner;
use platform::health::{DatabaseCheck, HealthChecks, KafkaCheck};
use platform::http::{ServerParts, bind, openapi_skeleton, serve};
use platform::outbox::OutboxRelay;
use prometheus::Registry;
use sea_orm::DatabaseConnection;

use crate::configuration::Settings;
use crate::consumers::{self, CONSUMER_GROUP};
use crate::migrations::Migrator;
use crate::routes::{self, PortalState};
use crate::store::PRODUCER;
use crate::workers::{self, Deliverer};

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
            "partner-portal",
        )?;
        let authenticator = Authenticator::new(&settings.base.auth);
        let mut background = Background::new();
        let mut health = HealthChecks::default().with(DatabaseCheck(db.clone()));
        let kafka = &settings.base.kafka;
        let dead_letters = if kafka.is_configured() {
            kafka.ensure_topics_in_background(&[
                events::topics::FULFILMENT_EVENTS,
                events::topics::PARTNER_EVENTS,
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
                &[events::topics::FULFILMENT_EVENTS],
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
                "partner-portal-dead-letters",
            )?))
        } else {
            tracing::warn!("no broker configured (kafka.brokers): events stay in the outbox");
            None
        };
        let deliverer = Deliverer {
            db: db.clone(),
            http: workers::client(&settings.portal.webhooks)?,
            settings: settings.portal.webhooks.clone(),
        };
        let runner_settings = deliverer.runner_settings();
        let deliveries = DueWorkRunner::new(db.clone(), Arc::new(deliverer), runner_settings);
        let wake = deliveries.waker();
        background.spawn("webhook deliverer", |stop| deliveries.run(stop));

        let listener = bind(&settings.base.http)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(PortalState {
            db: db.clone(),
            sequencer,
            authenticator: authenticator.clone(),
            settings: settings.portal.clone(),
            deliveries: wake,
        });
        let parts = ServerParts {
            http: settings.base.http.clone(),
            openapi: openapi_skeleton(
                "recommerce partner portal",
                "Partners' jobs, their reports, their webhooks; partner users for admins.",
            ),
            authenticator,
            health,
            metrics_registry: registry,
            metrics_namespace: "partner_portal",
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
