//! The partner portal as the platform's service builder wires it: what is its own is the
//! `fulfilment.events` consumer (which opens and closes partners' jobs), the webhook
//! deliverer and its routes. Partners' reports need only the database.

use std::sync::Arc;

use actix_web::web;
use platform::service::{Application, Manifest, Service, ServiceBuilder};
use platform::startup::StartupError;

use crate::configuration::{SERVICE, Settings};
use crate::migrations::Migrator;
use crate::routes::{self, PortalState};
use crate::workers::{self, Deliverer};

pub const MANIFEST: &Manifest = &Manifest {
    defaults: SERVICE,
    title: "recommerce partner portal",
    summary: "Partners' jobs, their reports, their webhooks; partner users for admins.",
    publishes: &[events::topics::PARTNER_EVENTS],
    consumes: &[events::topics::FULFILMENT_EVENTS],
    admin_prefix: "/v1/portal/admin",
};

pub struct PartnerPortal;

impl Service for PartnerPortal {
    type Settings = Settings;
    type Migrator = Migrator;
    const MANIFEST: &'static Manifest = MANIFEST;

    async fn build(
        mut service: ServiceBuilder,
        settings: Settings,
    ) -> Result<Application, StartupError> {
        let own = &settings.portal;
        let db = service.db();
        let sequencer = service.sequencer()?;
        service.consume(crate::consumers::handlers())?;

        // Webhook delivery runs on the background pool, never on requests'.
        let deliverer = Deliverer {
            db: service.background_db(),
            http: workers::client(&own.webhooks)?,
            settings: own.webhooks.clone(),
        };
        let runner_settings = deliverer.runner_settings();
        let deliveries =
            service.due_work("webhook deliverer", Arc::new(deliverer), runner_settings);

        // Disabled users' tokens are refused by every service: told again every round.
        if let Some(revocations) = service.authenticator().revocations().cloned() {
            let teller = crate::revocations::teller(service.background_db(), revocations);
            service
                .periodic("revocation teller", teller, crate::revocations::retry())
                .await?;
        }

        let state = web::Data::new(PortalState {
            db,
            sequencer,
            authenticator: service.authenticator().clone(),
            settings: own.clone(),
            deliveries,
        });
        service.serve(move |cfg, admin| {
            cfg.app_data(state.clone());
            routes::configure(cfg, admin);
        })
    }
}
