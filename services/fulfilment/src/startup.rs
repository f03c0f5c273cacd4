//! The fulfilment service as the platform's service builder wires it: what is its own is
//! the consumer of `order.events` and `partner.events`, the reassigner (a periodic round
//! that offers unassigned and expired jobs again), the re-pricing worker and its routes.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use platform::auth::ServiceCredentials;
use platform::due_work::DueWorkSettings;
use platform::retry::RetryPolicy;
use platform::service::{Application, Manifest, Service, ServiceBuilder};
use platform::startup::StartupError;
use sea_orm::DatabaseConnection;

use crate::configuration::{SERVICE, Settings};
use crate::migrations::Migrator;
use crate::quote_client::QuoteClient;
use crate::routes::{self, FulfilmentState};
use crate::workers::{PartnersChanged, Reassigner, Requoter};

pub const MANIFEST: &Manifest = &Manifest {
    defaults: SERVICE,
    title: "recommerce fulfilment",
    summary: "Partners, and the pickup, inspection and return jobs they do.",
    publishes: &[events::topics::FULFILMENT_EVENTS],
    consumes: &[events::topics::ORDER_EVENTS, events::topics::PARTNER_EVENTS],
    admin_prefix: "/v1/admin/jobs",
};

pub struct Fulfilment;

impl Service for Fulfilment {
    type Settings = Settings;
    type Migrator = Migrator;
    const MANIFEST: &'static Manifest = MANIFEST;

    async fn build(
        mut service: ServiceBuilder,
        settings: Settings,
    ) -> Result<Application, StartupError> {
        let own = &settings.fulfilment;
        let db = service.db();
        // The sweeps and re-pricing run on the background pool, never on requests'.
        let background = service.background_db();
        let sequencer = service.sequencer()?;
        service.consume(crate::consumers::handlers())?;

        let sweep = Duration::from_millis(own.sweep_interval_ms);
        let reassign = Reassigner {
            db: background.clone(),
            sequencer: sequencer.clone(),
            acceptance_window: Duration::from_secs(own.acceptance_window_seconds),
        }
        .every(sweep);
        // A failed round is tried again after one interval, then less and less often.
        let reassign = service
            .periodic(
                "job reassigner",
                reassign,
                RetryPolicy::new(sweep, sweep * 8),
            )
            .await?;

        let credentials =
            ServiceCredentials::from_settings(service.authenticator(), own.quote_token.as_ref());
        let requoter = Requoter {
            db: background,
            sequencer: sequencer.clone(),
            quotes: QuoteClient::new(
                &own.quote_url,
                Duration::from_millis(own.quote_timeout_ms),
                credentials,
            )?,
            retry: own.requote.policy(),
        };
        let requote_settings = DueWorkSettings {
            retry_initial_ms: own.requote.retry_initial_ms,
            retry_max_ms: own.requote.retry_max_ms,
            ..DueWorkSettings::default()
        };
        service.due_work(
            "inspection re-pricing",
            Arc::new(requoter),
            requote_settings,
        );

        let jobs =
            crate::workers::partner_jobs_reading(service.background_db(), service.registry())?;
        service.every_instance(
            "open jobs by partner",
            Duration::from_secs(own.jobs_reading_seconds),
            jobs,
        );

        let state = web::Data::new(FulfilmentState {
            partners_changed: PartnersChanged {
                db: db.clone(),
                waker: reassign,
            },
            db,
            sequencer,
        });
        service.serve(move |cfg, admin| {
            cfg.app_data(state.clone());
            routes::configure(cfg, admin);
        })
    }

    async fn seed(db: &DatabaseConnection) -> Result<Option<String>, StartupError> {
        let created = crate::seed::load(db)
            .await
            .map_err(|error| StartupError::Seed(Box::new(error)))?;
        Ok(Some(format!("fulfilment: {created} partners created")))
    }
}
