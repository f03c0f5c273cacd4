//! The quote service as the platform's service builder wires it: what is its own is the
//! `catalog.events` consumer that feeds its catalog read model, the catalog client (the read
//! model's fallback), the Redis connection and its routes.

use std::sync::Arc;

use actix_web::web;
use platform::service::{Application, Manifest, Service, ServiceBuilder};
use platform::startup::StartupError;

use crate::catalog_client::CatalogClient;
use crate::configuration::{SERVICE, Settings};
use crate::migrations::Migrator;
use crate::quoting::QuoteState;
use crate::routes;
use crate::store::SeaQuoteStore;

pub const MANIFEST: &Manifest = &Manifest {
    defaults: SERVICE,
    title: "recommerce quote",
    summary: "Prices a device from its variant, condition answers and pricing rules; \
              holds the price for one order.",
    publishes: &[events::topics::QUOTE_EVENTS],
    consumes: &[events::topics::CATALOG_EVENTS],
    admin_prefix: "/v1/admin/pricing",
};

pub struct Quote;

impl Service for Quote {
    type Settings = Settings;
    type Migrator = Migrator;
    const MANIFEST: &'static Manifest = MANIFEST;

    async fn build(
        mut service: ServiceBuilder,
        settings: Settings,
    ) -> Result<Application, StartupError> {
        service.redis()?;
        // Without a broker the read model is filled only from the catalog's HTTP API.
        service.consume(crate::consumers::handlers())?;
        let state = web::Data::new(QuoteState {
            store: Arc::new(SeaQuoteStore::new(service.db())),
            catalog: CatalogClient::new(&settings.quote)?,
            settings: settings.quote.clone(),
        });
        service.serve(move |cfg, _admin| {
            cfg.app_data(state.clone());
            routes::configure(cfg);
        })
    }
}
