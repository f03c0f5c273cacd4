//! The `recommerce` command line: one binary for every way the platform runs, so a laptop,
//! compose and k8s differ only in arguments and environment, never in what was built.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use platform::auth::{Authenticator, Role};
use platform::config::Layers;
use platform::kafka::{StandaloneBroker, StandaloneOptions};
use uuid::Uuid;

use crate::config_check::{self, Component};
use crate::dev::{self, DevArgs};
use crate::edge;
use crate::load::{self, LoadArgs};
use crate::services::{self, ServiceName};

#[derive(Parser)]
#[command(
    name = "recommerce",
    version,
    about = "recommerce: the device trade-in marketplace"
)]
pub struct Cli {
    /// A TOML file layered between the defaults and the APP_* environment.
    #[arg(long, global = true, env = "APP_CONFIG_FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run everything for a developer: six services, edge, embedded broker, SQLite, seed data.
    Dev(DevArgs),
    /// Serve one service, configured by its APP_* environment (what containers run).
    Serve {
        #[arg(value_enum)]
        service: ServiceName,
    },
    /// Serve the edge router alone, in front of services at the configured edge.*_url.
    Edge,
    /// Run the embedded Kafka-protocol broker with every topic; prints its bootstrap address
    /// (127.0.0.1:PORT) once it is ready.
    Broker {
        /// Also write the bootstrap address to this file (for scripts waiting on it).
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, default_value_t = 3)]
        partitions: i32,
        /// Listen on 127.0.0.1:PORT (the same address across restarts); a free port if unset.
        #[arg(long)]
        port: Option<u16>,
        /// Keep every topic's messages and the groups' committed offsets here across
        /// restarts; in memory only if unset.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Apply pending migrations of one service, or of all on their default databases.
    Migrate {
        #[arg(value_enum)]
        service: Option<ServiceName>,
    },
    /// Load the seed catalog and seed partners (idempotent), into one service's database or,
    /// without a service, into every service's default database.
    Seed {
        #[arg(value_enum)]
        service: Option<ServiceName>,
    },
    /// Print a signed HS256 token (auth.jwt_secret; the dev secret in the dev profile).
    Token {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The partner a partner token acts for.
        #[arg(long, alias = "partner-id")]
        partner: Option<Uuid>,
        /// Subject claim; a random UUID by default.
        #[arg(long)]
        subject: Option<String>,
        #[arg(long, default_value_t = 12)]
        ttl_hours: u64,
    },
    /// Exit 0 when a service answers its readiness probe (container health checks).
    Healthcheck {
        /// Defaults to http://127.0.0.1:$APP_HTTP__PORT/health/ready.
        #[arg(long)]
        url: Option<String>,
    },
    /// Load a deployment at fixed rates (open loop) with a trade-in mix; report latency
    /// percentiles, throughput and status counts per step and operation.
    Load(LoadArgs),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Load a component's configuration like `serve` would; fail on invalid values and on
    /// supplied keys it does not know (a misspelt APP_* variable is otherwise ignored).
    Check {
        #[arg(value_enum)]
        component: ComponentArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ComponentArg {
    Catalog,
    Quote,
    Order,
    Fulfilment,
    PartnerPortal,
    Reporting,
    Edge,
}

impl From<ComponentArg> for Component {
    fn from(value: ComponentArg) -> Self {
        match value {
            ComponentArg::Catalog => Component::Service(ServiceName::Catalog),
            ComponentArg::Quote => Component::Service(ServiceName::Quote),
            ComponentArg::Order => Component::Service(ServiceName::Order),
            ComponentArg::Fulfilment => Component::Service(ServiceName::Fulfilment),
            ComponentArg::PartnerPortal => Component::Service(ServiceName::PartnerPortal),
            ComponentArg::Reporting => Component::Service(ServiceName::Reporting),
            ComponentArg::Edge => Component::Edge,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Shopper,
    Partner,
    Admin,
    Service,
}

impl From<RoleArg> for Role {
    fn from(value: RoleArg) -> Self {
        match value {
            RoleArg::Shopper => Role::Shopper,
            RoleArg::Partner => Role::Partner,
            RoleArg::Admin => Role::Admin,
            RoleArg::Service => Role::Service,
        }
    }
}

pub async fn run(cli: Cli, started_at: Instant) -> anyhow::Result<()> {
    let file = cli.config;
    match cli.command {
        Command::Dev(args) => dev::run(args, file, started_at).await,
        Command::Serve { service } => {
            let layers = Layers::load(service.defaults(), file)?;
            let telemetry = layers.base()?.telemetry;
            let _telemetry = platform::telemetry::init(service.name(), &telemetry)?;
            let started = services::start(service, &layers).await?;
            started.run.await?;
            Ok(())
        }
        Command::Edge => {
            let settings = edge::Settings::from_layers(&Layers::load(edge::EDGE, file)?)?;
            let _telemetry = platform::telemetry::init(edge::EDGE.name, &settings.telemetry)?;
            edge::start(settings)?.run.await?;
            Ok(())
        }
        Command::Broker {
            file: out,
            partitions,
            port,
            data_dir,
        } => broker(out, partitions, port, data_dir).await,
        Command::Migrate { service } => {
            let chosen = service.map_or(ServiceName::ALL.to_vec(), |service| vec![service]);
            for service in chosen {
                services::migrate(service, &Layers::load(service.defaults(), file.clone())?)
                    .await?;
                println!("{}: migrations applied", service.name());
            }
            Ok(())
        }
        Command::Seed { service } => {
            let chosen = service.map_or(ServiceName::ALL.to_vec(), |service| vec![service]);
            for service in chosen {
                let layers = Layers::load(service.defaults(), file.clone())?;
                if let Some(report) = services::seed(service, &layers).await? {
                    println!("{report}");
                }
            }
            Ok(())
        }
        Command::Token {
            role,
            partner,
            subject,
            ttl_hours,
        } => {
            let role = Role::from(role);
            anyhow::ensure!(
                role != Role::Partner || partner.is_some(),
                "--partner is required for --role partner"
            );
            let auth = Layers::load(ServiceName::Catalog.defaults(), file)?
                .base()?
                .auth;
            let subject = subject.unwrap_or_else(|| Uuid::new_v4().to_string());
            let token = Authenticator::new(&auth).issue(
                &subject,
                role,
                partner,
                Duration::from_secs(ttl_hours * 3600),
            )?;
            println!("{token}");
            Ok(())
        }
        Command::Healthcheck { url } => healthcheck(url).await,
        Command::Load(args) => load::run(args).await,
        Command::Config(ConfigCommand::Check { component }) => {
            let component = Component::from(component);
            let (defaults, name) = match component {
                Component::Service(service) => (service.defaults(), service.name()),
                Component::Edge => (edge::EDGE, edge::EDGE.name),
            };
            let layers = Layers::load(defaults, file.clone())?;
            match component {
                Component::Service(service) => service.validate(&layers)?,
                Component::Edge => drop(edge::Settings::from_layers(&layers)?),
            }
            let supplied = Layers::supplied(file)?;
            let unknown = config_check::unknown_keys(component, &layers, supplied.raw())?;
            anyhow::ensure!(
                unknown.is_empty(),
                "{name} does not read these supplied keys: {}",
                unknown.join(", ")
            );
            println!("{name}: configuration is valid");
            Ok(())
        }
    }
}

async fn broker(
    file: Option<PathBuf>,
    partitions: i32,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    platform::telemetry::init_stderr("info")?;
    let topics = events::topics::ALL
        .iter()
        .flat_map(|topic| {
            [
                (*topic).to_owned(),
                events::topics::dead_letter_topic(topic),
            ]
        })
        .map(|topic| (topic, partitions))
        .collect();
    let broker = StandaloneBroker::start(StandaloneOptions {
        port: port.unwrap_or(0),
        data_dir,
        topics,
    })
    .await?;
    if broker.replayed() > 0 {
        tracing::info!(messages = broker.replayed(), "replayed the journal");
    }
    let bootstrap = broker.bootstrap_servers().to_owned();
    if let Some(file) = file {
        std::fs::write(&file, format!("{bootstrap}\n"))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    println!("{bootstrap}");
    broker
        .run_until(async {
            if let Err(error) = platform::startup::stop_signal().await {
                tracing::error!(%error, "cannot wait for a stop signal; stopping");
            }
        })
        .await
}

async fn healthcheck(url: Option<String>) -> anyhow::Result<()> {
    let url = match url {
        Some(url) => url,
        None => {
            let port = std::env::var("APP_HTTP__PORT").unwrap_or_else(|_| "8080".to_owned());
            format!("http://127.0.0.1:{port}/health/ready")
        }
    };
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} does not answer"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    Ok(())
}
