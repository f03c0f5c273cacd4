//! Thin entry point: parse the command line, load settings, hand over to the library.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use catalog::configuration::{SERVICE, Settings};
use catalog::migrations::Migrator;
use catalog::startup::Application;
use catalog::store::SeaCatalogStore;
use clap::{Parser, Subcommand};
use platform::auth::{Authenticator, Role};
use platform::config::Layers;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "catalog", version, about = "recommerce catalog service")]
struct Cli {
    /// A TOML file layered between the defaults and the APP_* environment.
    #[arg(long, global = true, env = "APP_CONFIG_FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Run for a developer: dev profile, SQLite under ./data, seed data; prints URL and token.
    Dev,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the seed catalog (idempotent) and exit.
    Seed,
    /// Print a signed HS256 token (uses auth.jwt_secret).
    Token {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Subject claim; a random UUID by default.
        #[arg(long)]
        subject: Option<String>,
        /// Required for --role partner.
        #[arg(long)]
        partner_id: Option<Uuid>,
        #[arg(long, default_value_t = 12)]
        ttl_hours: u64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    let mut layers = Layers::load(SERVICE, cli.config)?;
    if matches!(command, Command::Dev) {
        layers = layers
            .set("profile", "dev")?
            .set("catalog.seed_on_start", true)?;
    }
    let settings = Settings::from_layers(&layers)?;
    let _telemetry = platform::telemetry::init(SERVICE.name, &settings.base.telemetry)?;

    match command {
        Command::Serve => run(settings, false).await,
        Command::Dev => run(settings, true).await,
        Command::Migrate => {
            let db = platform::db::connect(&settings.base.database).await?;
            platform::db::migrate::<Migrator>(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Seed => {
            let db = platform::db::connect(&settings.base.database).await?;
            platform::db::migrate::<Migrator>(&db).await?;
            let report = catalog::seed::load(&SeaCatalogStore::new(db)).await?;
            println!(
                "seeded {} models and {} questionnaires",
                report.models_created, report.questionnaires_created
            );
            Ok(())
        }
        Command::Token {
            role,
            subject,
            partner_id,
            ttl_hours,
        } => {
            let role = Role::from(role);
            anyhow::ensure!(
                role != Role::Partner || partner_id.is_some(),
                "--partner-id is required for --role partner"
            );
            let subject = subject.unwrap_or_else(|| Uuid::new_v4().to_string());
            let token = Authenticator::new(&settings.base.auth).issue(
                &subject,
                role,
                partner_id,
                Duration::from_secs(ttl_hours * 3600),
            )?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn run(settings: Settings, announce: bool) -> anyhow::Result<()> {
    let host = settings.base.http.host.clone();
    let authenticator = Authenticator::new(&settings.base.auth);
    let application = Application::build(settings)
        .await
        .context("the catalog could not start")?;
    if announce {
        let base = format!("http://{host}:{}", application.port());
        let admin = authenticator.issue(
            "dev-admin",
            Role::Admin,
            None,
            Duration::from_secs(12 * 3600),
        )?;
        println!(
            "\nrecommerce catalog is ready (dev profile, SQLite, seed data)\n\
             \n  Browse:   {base}/v1/devices\
             \n  Docs:     {base}/docs\
             \n  OpenAPI:  {base}/openapi.json\
             \n  Metrics:  {base}/metrics\
             \n  Health:   {base}/health/ready\
             \n\n  Admin token (12 h, dev secret):\n  {admin}\
             \n\n  Try: curl -H \"Authorization: Bearer <token>\" {base}/v1/admin/catalog/models\
             \n  Stop with Ctrl-C.\n"
        );
    }
    application.run_until_stopped().await?;
    Ok(())
}
