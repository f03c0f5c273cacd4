//! The order service as the platform's service builder wires it: what is its own is the
//! processor (one due-work row per order that has a step to take), the idempotency-key
//! pruner, the `fulfilment.events` consumer and its routes. Accepting orders needs only the
//! database: nothing here waits for quote, the broker or Redis to be reachable.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use platform::auth::ServiceCredentials;
use platform::due_work::Waker;
use platform::service::{Application, Manifest, Service, ServiceBuilder};
use platform::startup::StartupError;

use crate::configuration::{SERVICE, Settings};
use crate::migrations::Migrator;
use crate::payout::SandboxPayouts;
use crate::quote_client::QuoteClient;
use crate::routes::{self, OrderState};
use crate::store::OrderStore;
use crate::workers::{self, PayoutMetrics, Processor};

pub const MANIFEST: &Manifest = &Manifest {
    defaults: SERVICE,
    title: "recommerce order",
    summary: "Orders: accepted durably and once, then moved through the trade-in lifecycle.",
    publishes: &[events::topics::ORDER_EVENTS],
    consumes: &[events::topics::FULFILMENT_EVENTS],
    admin_prefix: "/v1/admin/orders",
};

pub struct Order;

impl Service for Order {
    type Settings = Settings;
    type Migrator = Migrator;
    const MANIFEST: &'static Manifest = MANIFEST;

    async fn build(
        mut service: ServiceBuilder,
        settings: Settings,
    ) -> Result<Application, StartupError> {
        let own = &settings.order;
        let sequencer = service.sequencer()?;
        let store = OrderStore::new(service.db());
        // The processor and the pruner work on the background pool: a backlog of orders to
        // move on never takes the connections that accepting new ones needs.
        let background = OrderStore::new(service.background_db());
        service.consume(crate::consumers::handlers())?;
        service.prioritise(actix_web::http::Method::POST, "/v1/orders");

        let credentials =
            ServiceCredentials::from_settings(service.authenticator(), own.quote_token.as_ref());
        let processor = Processor {
            store: background.clone(),
            sequencer: sequencer.clone(),
            quotes: QuoteClient::new(
                &own.quote_url,
                Duration::from_millis(own.quote_timeout_ms),
                credentials,
            )?,
            payouts: Arc::new(SandboxPayouts::default()),
            retry: own.processor.retry(),
            metrics: PayoutMetrics::new(service.registry())?,
        };
        let wake = if own.process_orders {
            service.due_work(
                "order processor",
                Arc::new(processor),
                own.processor.clone(),
            )
        } else {
            // Other instances process; this one only accepts.
            Waker::default()
        };

        let stuck = workers::stuck_orders_reading(
            background.clone(),
            service.registry(),
            chrono::Duration::minutes(i64::from(own.stuck_after_minutes)),
        )?;
        service.every_instance(
            "stuck orders",
            Duration::from_secs(own.stuck_check_seconds),
            stuck,
        );

        let retention =
            chrono::Duration::hours(i64::try_from(own.idempotency_retention_hours).unwrap_or(24));
        let prune = workers::idempotency_key_pruner(background, retention);
        service
            .periodic("idempotency key pruner", prune, own.processor.retry())
            .await?;

        let state = web::Data::new(OrderState {
            store,
            sequencer,
            wake,
        });
        service.serve(move |cfg, admin| {
            cfg.app_data(state.clone());
            routes::configure(cfg, admin);
        })
    }
}
