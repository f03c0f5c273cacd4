//! Reporting as the platform's service builder wires it: a consumer of every topic the
//! reports read, in the consumer group of the projection's generation, and the report routes.
//! It publishes nothing, owes no work and calls no service.

use std::time::Duration;

use actix_web::web;
use platform::service::{Application, Manifest, Service, ServiceBuilder};
use platform::startup::StartupError;

use crate::configuration::{SERVICE, Settings};
use crate::migrations::Migrator;
use crate::routes::{self, ReportingState};

pub const MANIFEST: &Manifest = &Manifest {
    defaults: SERVICE,
    title: "recommerce reporting",
    summary: "Admins' reports on quotes, orders, payouts and partners, from a read model of every service's events.",
    publishes: &[],
    consumes: &[
        events::topics::QUOTE_EVENTS,
        events::topics::ORDER_EVENTS,
        events::topics::FULFILMENT_EVENTS,
        events::topics::PARTNER_EVENTS,
    ],
    admin_prefix: "/v1/admin/reports",
};

/// The consumer group of a projection: one per generation, so a projection whose database
/// was dropped reads every topic from the beginning (the topics must keep their events for
/// a rebuild to see them all).
pub fn consumer_group(generation: uuid::Uuid) -> String {
    format!("{}-{}", SERVICE.name, generation.simple())
}

pub struct Reporting;

impl Service for Reporting {
    type Settings = Settings;
    type Migrator = Migrator;
    const MANIFEST: &'static Manifest = MANIFEST;

    async fn build(
        mut service: ServiceBuilder,
        settings: Settings,
    ) -> Result<Application, StartupError> {
        let db = service.db();
        let generation = crate::store::generation(&db).await?;
        service.consume_as(&consumer_group(generation), crate::consumers::handlers())?;
        let time_in_status = crate::metrics::TimeInStatus::new(service.registry())?;
        service.every_instance(
            "time in status",
            Duration::from_secs(settings.reporting.metrics_reading_seconds),
            time_in_status.reading(service.background_db()),
        );
        let state = web::Data::new(ReportingState {
            db,
            settings: settings.reporting,
        });
        service.serve(move |cfg, admin| {
            cfg.app_data(state.clone());
            routes::configure(cfg, admin);
        })
    }
}
