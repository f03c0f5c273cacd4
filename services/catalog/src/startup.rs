//! The catalog as the platform's service builder wires it: what is its own is the seed
//! catalog (loaded on start when `catalog.seed_on_start`), the Redis response cache and its
//! routes. It publishes `catalog.events` and consumes nothing.

use std::sync::Arc;

use actix_web::web;
use platform::service::{Application, Manifest, Service, ServiceBuilder};
use platform::startup::StartupError;
use sea_orm::DatabaseConnection;

use crate::cache::ResponseCache;
use crate::configuration::{SERVICE, Settings};
use crate::migrations::Migrator;
use crate::routes::{self, CatalogState};
use crate::seed;
use crate::store::SeaCatalogStore;

pub const MANIFEST: &Manifest = &Manifest {
    defaults: SERVICE,
    title: "recommerce catalog",
    summary: "Device models, variants, base prices and condition questionnaires.",
    publishes: &[events::topics::CATALOG_EVENTS],
    consumes: &[],
    admin_prefix: "/v1/admin/catalog",
};

pub struct Catalog;

impl Service for Catalog {
    type Settings = Settings;
    type Migrator = Migrator;
    const MANIFEST: &'static Manifest = MANIFEST;

    async fn build(
        mut service: ServiceBuilder,
        settings: Settings,
    ) -> Result<Application, StartupError> {
        let own = &settings.catalog;
        let store = Arc::new(SeaCatalogStore::new(service.db()));
        if own.seed_on_start {
            let report = seed::load(store.as_ref())
                .await
                .map_err(|error| StartupError::Seed(Box::new(error)))?;
            tracing::info!(?report, "seed catalog loaded");
        }
        let redis = service.redis()?;
        let cache = ResponseCache::new(redis, own.cache_ttl_seconds, service.registry())?;
        let state = web::Data::new(CatalogState {
            store,
            cache,
            http_max_age_seconds: own.http_max_age_seconds,
        });
        service.serve(move |cfg, _admin| {
            cfg.app_data(state.clone());
            routes::configure(cfg);
        })
    }

    async fn seed(db: &DatabaseConnection) -> Result<Option<String>, StartupError> {
        let report = seed::load(&SeaCatalogStore::new(db.clone()))
            .await
            .map_err(|error| StartupError::Seed(Box::new(error)))?;
        Ok(Some(format!(
            "catalog: {} models and {} questionnaires created",
            report.models_created, report.questionnaires_created
        )))
    }
}
