//! The five services behind one name each, so every command (serve, dev, migrate, config
//! check) treats them alike. Each is still built by its own crate's `Application::build`:
//! this module only chooses which, it adds no behaviour.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::ServerHandle;
use anyhow::Context;
use platform::config::{Layers, ServiceDefaults};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceName {
    Catalog,
    Quote,
    Order,
    Fulfilment,
    PartnerPortal,
}

impl ServiceName {
    /// In start order: each one's HTTP dependencies come before it.
    pub const ALL: [ServiceName; 5] = [
        ServiceName::Catalog,
        ServiceName::Quote,
        ServiceName::Order,
        ServiceName::Fulfilment,
        ServiceName::PartnerPortal,
    ];

    pub fn defaults(self) -> ServiceDefaults {
        match self {
            ServiceName::Catalog => catalog::configuration::SERVICE,
            ServiceName::Quote => quote_service::configuration::SERVICE,
            ServiceName::Order => order::configuration::SERVICE,
            ServiceName::Fulfilment => fulfilment::configuration::SERVICE,
            ServiceName::PartnerPortal => partner_portal::configuration::SERVICE,
        }
    }

    /// The name on the command line and in logs.
    pub fn name(self) -> &'static str {
        self.defaults().name
    }

    /// Its own settings section (`portal.*` for the partner portal).
    pub fn section(self) -> &'static str {
        match self {
            ServiceName::PartnerPortal => "portal",
            other => other.name(),
        }
    }

    /// Loads and validates the settings without starting anything.
    pub fn validate(self, layers: &Layers) -> anyhow::Result<()> {
        match self {
            ServiceName::Catalog => catalog::configuration::Settings::from_layers(layers).map(drop),
            ServiceName::Quote => {
                quote_service::configuration::Settings::from_layers(layers).map(drop)
            }
            ServiceName::Order => order::configuration::Settings::from_layers(layers).map(drop),
            ServiceName::Fulfilment => {
                fulfilment::configuration::Settings::from_layers(layers).map(drop)
            }
            ServiceName::PartnerPortal => {
                partner_portal::configuration::Settings::from_layers(layers).map(drop)
            }
        }
        .map_err(Into::into)
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

macro_rules! start {
    ($service:ident, $krate:ident, $layers:expr) => {{
        let settings = $krate::configuration::Settings::from_layers($layers)?;
        let application = $krate::startup::Application::build(settings)
            .await
            .with_context(|| format!("{} could not start", $service.name()))?;
        Started {
            name: $service.name(),
            port: application.port(),
            handle: application.handle(),
            run: Box::pin(application.run_until_stopped()),
        }
    }};
}

/// Builds `service` from `layers`: migrated, bound, its background work running.
pub async fn start(service: ServiceName, layers: &Layers) -> anyhow::Result<Started> {
    Ok(match service {
        ServiceName::Catalog => start!(service, catalog, layers),
        ServiceName::Quote => start!(service, quote_service, layers),
        ServiceName::Order => start!(service, order, layers),
        ServiceName::Fulfilment => start!(service, fulfilment, layers),
        ServiceName::PartnerPortal => start!(service, partner_portal, layers),
    })
}

/// Applies `service`'s pending migrations to its configured database.
pub async fn migrate(service: ServiceName, layers: &Layers) -> anyhow::Result<()> {
    service.validate(layers)?;
    let base = layers.base()?;
    let db = platform::db::connect(&base.database)
        .await
        .with_context(|| format!("the {} database is unavailable", service.name()))?;
    match service {
        ServiceName::Catalog => platform::db::migrate::<catalog::migrations::Migrator>(&db).await,
        ServiceName::Quote => {
            platform::db::migrate::<quote_service::migrations::Migrator>(&db).await
        }
        ServiceName::Order => platform::db::migrate::<order::migrations::Migrator>(&db).await,
        ServiceName::Fulfilment => {
            platform::db::migrate::<fulfilment::migrations::Migrator>(&db).await
        }
        ServiceName::PartnerPortal => {
            platform::db::migrate::<partner_portal::migrations::Migrator>(&db).await
        }
    }
    .with_context(|| format!("migrating {} failed", service.name()))?;
    db.close().await.ok();
    Ok(())
}

/// Loads the seed data a service has (catalog devices, fulfilment partners), migrating first.
/// Returns what was done, for the operator; `None` when the service has no seed data.
pub async fn seed(service: ServiceName, layers: &Layers) -> anyhow::Result<Option<String>> {
    if !matches!(service, ServiceName::Catalog | ServiceName::Fulfilment) {
        return Ok(None);
    }
    migrate(service, layers).await?;
    let base = layers.base()?;
    let db = platform::db::connect(&base.database).await?;
    let report = match service {
        ServiceName::Catalog => {
            let report =
                catalog::seed::load(&catalog::store::SeaCatalogStore::new(db.clone())).await?;
            format!(
                "catalog: {} models and {} questionnaires created",
                report.models_created, report.questionnaires_created
            )
        }
        _ => {
            let created = fulfilment::seed::load(&db).await?;
            format!("fulfilment: {created} partners created")
        }
    };
    db.close().await.ok();
    Ok(Some(report))
}
