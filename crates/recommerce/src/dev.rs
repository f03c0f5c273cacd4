//! `recommerce dev`: the whole marketplace in one process for a laptop — six services, their
//! consumers and relays, the edge, an embedded Kafka-protocol broker and SQLite files under
//! one data directory — so the first command on a fresh clone shows the real thing, not a
//! mock. Each service still runs behind its own port and talks to the others over HTTP and
//! the broker exactly as in a deployment; only the infrastructure is embedded.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use platform::auth::{Authenticator, Role};
use platform::config::Layers;
use platform::kafka::EmbeddedBroker;
use serde::Serialize;
use uuid::Uuid;

use crate::edge;
use crate::services::{self, ServiceName, Started};

const TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Where the SQLite files (and dev.json, the printed URLs and tokens) live.
    #[arg(long, env = "RECOMMERCE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The interface every port binds to.
    #[arg(long, env = "RECOMMERCE_HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, env = "RECOMMERCE_EDGE_PORT", default_value_t = 8080)]
    pub edge_port: u16,
    #[arg(long, env = "RECOMMERCE_CATALOG_PORT", default_value_t = 8081)]
    pub catalog_port: u16,
    #[arg(long, env = "RECOMMERCE_QUOTE_PORT", default_value_t = 8082)]
    pub quote_port: u16,
    #[arg(long, env = "RECOMMERCE_ORDER_PORT", default_value_t = 8083)]
    pub order_port: u16,
    #[arg(long, env = "RECOMMERCE_FULFILMENT_PORT", default_value_t = 8084)]
    pub fulfilment_port: u16,
    #[arg(long, env = "RECOMMERCE_PORTAL_PORT", default_value_t = 8085)]
    pub portal_port: u16,
    #[arg(long, env = "RECOMMERCE_REPORTING_PORT", default_value_t = 8086)]
    pub reporting_port: u16,
    /// Redis for the sequencer and caches; without it each service sequences in-process.
    #[arg(long, env = "RECOMMERCE_REDIS_URL")]
    pub redis: Option<String>,
    /// A real broker (`host:port,...`); without it an embedded one starts.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka: Option<String>,
    /// A PostgreSQL server URL (e.g. postgres://postgres@127.0.0.1:5432/postgres); each
    /// service gets its own database `<postgres-prefix>_<service>` there instead of SQLite,
    /// created if missing.
    #[arg(long, env = "RECOMMERCE_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// The first part of those database names, so two dev runs can share a server.
    #[arg(long, env = "RECOMMERCE_POSTGRES_PREFIX", default_value = "recommerce")]
    pub postgres_prefix: String,
}

impl DevArgs {
    fn port(&self, service: ServiceName) -> u16 {
        match service {
            ServiceName::Catalog => self.catalog_port,
            ServiceName::Quote => self.quote_port,
            ServiceName::Order => self.order_port,
            ServiceName::Fulfilment => self.fulfilment_port,
            ServiceName::PartnerPortal => self.portal_port,
            ServiceName::Reporting => self.reporting_port,
        }
    }

    fn url(&self, port: u16) -> String {
        format!("http://{}:{port}", self.host)
    }
}

/// What the dev run prints, also written to `<data-dir>/dev.json` for scripts.
#[derive(Debug, Serialize)]
pub struct Announcement {
    pub edge: String,
    pub services: Vec<ServiceUrls>,
    pub tokens: Tokens,
    pub pincodes: Vec<&'static str>,
    pub ready_after_ms: u128,
}

#[derive(Debug, Serialize)]
pub struct ServiceUrls {
    pub name: &'static str,
    pub url: String,
    pub docs: String,
    pub metrics: String,
}

#[derive(Debug, Serialize)]
pub struct Tokens {
    pub shopper: String,
    pub logistics_partner: String,
    pub repair_partner: String,
    pub admin: String,
}

pub async fn run(
    args: DevArgs,
    config_file: Option<PathBuf>,
    started_at: Instant,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let mut layers = Vec::new();
    for service in ServiceName::ALL {
        layers.push((
            service,
            Layers::load(service.defaults(), config_file.clone())?.set("profile", "dev")?,
        ));
    }
    // The banner is what a developer reads first; service logs start at warnings unless
    // APP_TELEMETRY__LOG_LEVEL asks for more.
    let mut telemetry = layers[0].1.base()?.telemetry;
    if Layers::supplied(config_file.clone())?
        .raw()
        .get::<String>("telemetry.log_level")
        .is_err()
    {
        telemetry.log_level = "warn".to_owned();
    }
    let _telemetry = platform::telemetry::init("recommerce-dev", &telemetry)?;

    let (broker, brokers) = match &args.kafka {
        Some(brokers) => (None, brokers.clone()),
        None => {
            let broker = EmbeddedBroker::start(1)?;
            for topic in events::topics::ALL {
                broker.create_topic_with_dlq(topic, 3)?;
            }
            let brokers = broker.bootstrap_servers().to_owned();
            (Some(broker), brokers)
        }
    };

    let mut configured = Vec::new();
    for (service, service_layers) in layers {
        let database_url = match &args.postgres {
            Some(server) => {
                let name = format!(
                    "{}_{}",
                    args.postgres_prefix,
                    service.name().replace('-', "_")
                );
                platform::db::ensure_postgres_database(server, &name).await?
            }
            None => format!(
                "sqlite://{}/{}.db?mode=rwc",
                args.data_dir.display(),
                service.name()
            ),
        };
        let service_layers = service_layers
            .set("http.host", args.host.clone())?
            .set("http.port", i64::from(args.port(service)))?
            .set("database.url", database_url)?
            .set("kafka.brokers", brokers.clone())?
            .set("redis.url", args.redis.clone().unwrap_or_default())?
            .set("catalog.seed_on_start", true)?
            .set("quote.catalog_url", args.url(args.catalog_port))?
            .set("order.quote_url", args.url(args.quote_port))?
            .set("fulfilment.quote_url", args.url(args.quote_port))?;
        configured.push((service, service_layers));
    }

    let mut running: Vec<Started> = Vec::new();
    for (service, service_layers) in &configured {
        if *service == ServiceName::Fulfilment {
            services::seed(*service, service_layers).await?;
        }
        let started = match services::start(*service, service_layers).await {
            Ok(started) => started,
            Err(error) => {
                for other in &running {
                    other.handle.stop(false).await;
                }
                return Err(error);
            }
        };
        running.push(started);
    }
    let edge_layers = Layers::load(edge::EDGE, config_file)?
        .set("http.host", args.host.clone())?
        .set("http.port", i64::from(args.edge_port))?
        .set("edge.catalog_url", args.url(args.catalog_port))?
        .set("edge.quote_url", args.url(args.quote_port))?
        .set("edge.order_url", args.url(args.order_port))?
        .set("edge.fulfilment_url", args.url(args.fulfilment_port))?
        .set("edge.portal_url", args.url(args.portal_port))?
        .set("edge.reporting_url", args.url(args.reporting_port))?;
    running.push(edge::start(edge::Settings::from_layers(&edge_layers)?)?);

    let base = configured[0].1.base()?;
    let announcement = announce(&args, &running, &Authenticator::new(&base.auth), started_at)?;
    let file = args.data_dir.join("dev.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&announcement)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    print_banner(
        &announcement,
        broker.is_some(),
        args.redis.is_some(),
        args.postgres.is_some(),
    );

    let results = futures_util::future::join_all(
        running
            .into_iter()
            .map(|started| async move { (started.name, started.run.await) }),
    )
    .await;
    drop(broker);
    let mut failed = false;
    for (name, result) in results {
        if let Err(error) = result {
            tracing::error!(service = name, %error, "stopped with an error");
            failed = true;
        }
    }
    anyhow::ensure!(!failed, "a service stopped with an error");
    println!("recommerce dev stopped");
    Ok(())
}

/// A stable subject per dev persona, so orders placed yesterday are still "mine" today.
fn persona(name: &str) -> String {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("recommerce-dev:{name}").as_bytes(),
    )
    .to_string()
}

fn announce(
    args: &DevArgs,
    running: &[Started],
    authenticator: &Authenticator,
    started_at: Instant,
) -> anyhow::Result<Announcement> {
    let partner = |kind: &str| {
        fulfilment::seed::partners()
            .into_iter()
            .find(|partner| partner.kind.as_str() == kind)
            .map(|partner| partner.id)
    };
    let tokens = Tokens {
        shopper: authenticator.issue(&persona("shopper"), Role::Shopper, None, TOKEN_TTL)?,
        logistics_partner: authenticator.issue(
            &persona("logistics-dispatcher"),
            Role::Partner,
            partner("logistics"),
            TOKEN_TTL,
        )?,
        repair_partner: authenticator.issue(
            &persona("repair-technician"),
            Role::Partner,
            partner("repair"),
            TOKEN_TTL,
        )?,
        admin: authenticator.issue(&persona("admin"), Role::Admin, None, TOKEN_TTL)?,
    };
    let services = running
        .iter()
        .filter(|started| started.name != edge::EDGE.name)
        .map(|started| {
            let url = args.url(started.port);
            ServiceUrls {
                name: started.name,
                docs: format!("{url}/docs"),
                metrics: format!("{url}/metrics"),
                url,
            }
        })
        .collect();
    Ok(Announcement {
        edge: args.url(args.edge_port),
        services,
        tokens,
        pincodes: fulfilment::seed::SEED_PINCODES.to_vec(),
        ready_after_ms: started_at.elapsed().as_millis(),
    })
}

fn print_banner(announcement: &Announcement, embedded_broker: bool, redis: bool, postgres: bool) {
    let mut lines = vec![
        String::new(),
        format!(
            "recommerce is ready in {:.1} s (dev profile; {}, {}, {})",
            announcement.ready_after_ms as f64 / 1000.0,
            if postgres { "PostgreSQL" } else { "SQLite" },
            if embedded_broker {
                "embedded broker"
            } else {
                "external broker"
            },
            if redis {
                "Redis sequencer"
            } else {
                "in-process sequencer"
            },
        ),
        String::new(),
        format!("  Edge (all APIs):  {}", announcement.edge),
    ];
    for service in &announcement.services {
        lines.push(format!(
            "  {:<16}  {}   docs {}   metrics {}",
            service.name, service.url, service.docs, service.metrics
        ));
    }
    lines.push(String::new());
    lines.push("  Tokens (12 h, dev secret):".to_owned());
    let tokens = &announcement.tokens;
    for (who, token) in [
        ("shopper", &tokens.shopper),
        ("logistics partner", &tokens.logistics_partner),
        ("repair partner", &tokens.repair_partner),
        ("admin", &tokens.admin),
    ] {
        lines.push(format!("  {who:<18} {token}"));
    }
    lines.push(String::new());
    lines.push(format!(
        "  Seed partners serve pincodes {}.",
        announcement.pincodes.join(", ")
    ));
    lines.push(format!(
        "  Try: curl {}/v1/devices?category=phone",
        announcement.edge
    ));
    lines.push("  Stop with Ctrl-C.".to_owned());
    println!("{}", lines.join("\n"));
}
