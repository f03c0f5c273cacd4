//! Builds the order service from its settings: database (migrated), sequencer, the HTTP
//! server, and beside it the processor, the idempotency-key pruner and, with a broker, the
//! outbox relay and the `fulfilment.events` consumer. Accepting orders needs only the
//! database: nothing here waits for quote, the broker or Redis to be reachable.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use chrono::Utc;
use platform::auth::Authenticator;
use platform::background::Background;
use platform::consumer::ConsumerRuntime;
use platform::consumer::dead_letters::DeadLetterAdmin;
use platform::due_work::{DueWorkRunner, Periodic};
use platform::health::{DatabaseCheck, HealthChecks, KafkaCheck};
use platform::http::{ServerParts, bind, openapi_skeleton, serve};
use platform::outbox::OutboxRelay;
use prometheus::Registry;
use sea_orm::DatabaseConnection;

use crate::configuration::Settings;
use crate::consumers::{self, CONSUMER_GROUP};
use crate::migrations::Migrator;
use crate::payout::{PayoutProvider, SandboxPayouts};
use crate::published::PRODUCER;
use crate::quote_client::{QuoteClient, ServiceCredentials};
use crate::routes::{self, OrderState};
use crate::store::OrderStore;
use crate::workers::Processor;

const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const PRUNE_IDEMPOTENCY_KEYS: &str = "order.prune_idempotency_keys";

pub use platform::startup::StartupError;

pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    background: Background,
    grace: Duration,
    payouts: Arc<SandboxPayouts>,
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
            "order",
        )?;
        let store = OrderStore::new(db.clone());
        let authenticator = Authenticator::new(&settings.base.auth);
        let credentials =
            ServiceCredentials::from_settings(&authenticator, settings.order.quote_token.as_ref());
        let quotes = QuoteClient::new(
            &settings.order.quote_url,
            Duration::from_millis(settings.order.quote_timeout_ms),
            credentials,
        )?;
        let payouts = Arc::new(SandboxPayouts::default());
        let mut background = Background::new();
        let mut health = HealthChecks::default().with(DatabaseCheck(db.clone()));
        let kafka = &settings.base.kafka;
        let dead_letters = if kafka.is_configured() {
            kafka.ensure_topics_in_background(&[
                events::topics::ORDER_EVENTS,
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
                "order-dead-letters",
            )?))
        } else {
            tracing::warn!("no broker configured (kafka.brokers): events stay in the outbox");
            None
        };
        let processor = Processor {
            store: store.clone(),
            sequencer: sequencer.clone(),
            quotes,
            payouts: payouts.clone() as Arc<dyn PayoutProvider>,
            retry: settings.order.processor.retry(),
        };
        let runner = DueWorkRunner::new(
            db.clone(),
            Arc::new(processor),
            settings.order.processor.clone(),
        );
        let wake = runner.waker();
        if settings.order.process_orders {
            background.spawn("order processor", |stop| runner.run(stop));
        }
        let retention = chrono::Duration::hours(
            i64::try_from(settings.order.idempotency_retention_hours).unwrap_or(24),
        );
        let pruner = store.clone();
        let prune = Periodic::new(PRUNE_IDEMPOTENCY_KEYS, PRUNE_EVERY, move || {
            let pruner = pruner.clone();
            async move {
                match pruner.prune_idempotency_keys(Utc::now() - retention).await {
                    Ok(0) => Ok(()),
                    Ok(pruned) => {
                        tracing::info!(pruned, "expired idempotency keys forgotten");
                        Ok(())
                    }
                    Err(error) => Err(format!("pruning idempotency keys failed: {error}")),
                }
            }
        });
        prune.start_owing(&db).await?;
        let prune_settings = prune.settings(settings.order.processor.retry());
        let prune = DueWorkRunner::new(db.clone(), Arc::new(prune), prune_settings);
        background.spawn("idempotency key pruner", |stop| prune.run(stop));

        let listener = bind(&settings.base.http)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(OrderState {
            store,
            sequencer,
            wake,
        });
        let parts = ServerParts {
            http: settings.base.http.clone(),
            openapi: openapi_skeleton(
                "recommerce order",
                "Orders: accepted durably and once, then moved through the trade-in lifecycle.",
            ),
            authenticator,
            health,
            metrics_registry: registry,
            metrics_namespace: "order",
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
            payouts,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from outside (tests, the dev runner).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The sandbox payout provider's ledger (tests and the dev run).
    pub fn sandbox_payouts(&self) -> Arc<SandboxPayouts> {
        self.payouts.clone()
    }

    /// Serves until SIGINT/SIGTERM or [`Application::handle`] stops it, finishing in-flight
    /// requests, then stops the background work in order.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        platform::startup::run_until_stopped(self.server, self.background, self.db, self.grace)
            .await
    }
}
