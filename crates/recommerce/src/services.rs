//! The six services behind one name each, so every command (serve, dev, migrate, seed,
//! config check) treats them alike: each name stands for its crate's declaration (a
//! `platform::service::Service`), and everything else goes through that.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::ServerHandle;
use anyhow::Context;
use platform::config::{Layers, ServiceDefaults};
use platform::service::AnyService;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceName {
    Catalog,
    Quote,
    Order,
    Fulfilment,
    PartnerPortal,
    Reporting,
}

impl ServiceName {
    /// In start order: each one's HTTP dependencies come before it.
    pub const ALL: [ServiceName; 6] = [
        ServiceName::Catalog,
        ServiceName::Quote,
        ServiceName::Order,
        ServiceName::Fulfilment,
        ServiceName::PartnerPortal,
        ServiceName::Reporting,
    ];

    /// The service crate's declaration, which builds, migrates and seeds it.
    pub fn service(self) -> &'static dyn AnyService {
        match self {
            ServiceName::Catalog => &catalog::startup::Catalog,
            ServiceName::Quote => &quote_service::startup::Quote,
            ServiceName::Order => &order::startup::Order,
            ServiceName::Fulfilment => &fulfilment::startup::Fulfilment,
            ServiceName::PartnerPortal => &partner_portal::startup::PartnerPortal,
            ServiceName::Reporting => &reporting::startup::Reporting,
        }
    }

    pub fn defaults(self) -> ServiceDefaults {
        self.service().manifest().defaults
    }

    /// The name on the command line and in logs.
    pub fn name(self) -> &'static str {
        self.defaults().name
    }

    /// Loads and validates the settings without starting anything.
    pub fn validate(self, layers: &Layers) -> anyhow::Result<()> {
        self.service().check(layers).map_err(Into::into)
    }
}

pub type Stopped = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// A service that is listening: where, how to stop it, and the future that runs it to the end.
pub struct Started {
    pub name: &'static str,
    pub port: u16,
    pub handle: ServerHandle,
    pub run: Stopped,
}

/// Builds `service` from `layers`: migrated, bound, its background work running.
pub async fn start(service: ServiceName, layers: &Layers) -> anyhow::Result<Started> {
    let application = service
        .service()
        .start(layers)
        .await
        .with_context(|| format!("{} could not start", service.name()))?;
    Ok(Started {
        name: service.name(),
        port: application.port(),
        handle: application.handle(),
        run: Box::pin(application.run_until_stopped()),
    })
}

/// Applies `service`'s pending migrations to its configured database.
pub async fn migrate(service: ServiceName, layers: &Layers) -> anyhow::Result<()> {
    service.validate(layers)?;
    let base = layers.base()?;
    let db = platform::db::connect(&base.database)
        .await
        .with_context(|| format!("the {} database is unavailable", service.name()))?;
    service
        .service()
        .migrate(&db)
        .await
        .with_context(|| format!("migrating {} failed", service.name()))?;
    db.close().await.ok();
    Ok(())
}

/// Loads the seed data a service has (catalog devices, fulfilment partners), migrating first.
/// Returns what was done, for the operator; `None` when the service has no seed data.
pub async fn seed(service: ServiceName, layers: &Layers) -> anyhow::Result<Option<String>> {
    migrate(service, layers).await?;
    let base = layers.base()?;
    let db = platform::db::connect(&base.database).await?;
    let report = service.service().seed(&db).await;
    db.close().await.ok();
    Ok(report?)
}
