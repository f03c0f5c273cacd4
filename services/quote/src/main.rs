//! Thin entry point: parse the command line, load settings, hand over to the library.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use platform::auth::{Authenticator, Role};
use platform::config::Layers;
use quote_service::configuration::{SERVICE, Settings};
use quote_service::migrations::Migrator;
use quote_service::startup::Application;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "quote", version, about = "recommerce quote service")]
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
    /// Apply pending database migrations and exit.
    Migrate,
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
    let settings = Settings::from_layers(&Layers::load(SERVICE, cli.config)?)?;
    let _telemetry = platform::telemetry::init(SERVICE.name, &settings.base.telemetry)?;

    match command {
        Command::Serve => {
            let application = Application::build(settings)
                .await
                .context("the quote service could not start")?;
            application.run_until_stopped().await?;
            Ok(())
        }
        Command::Migrate => {
            let db = platform::db::connect(&settings.base.database).await?;
            platform::db::migrate::<Migrator>(&db).await?;
            println!("migrations applied");
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
