//! Thin entry point: parse the command line, load settings, hand over to the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use partner_portal::configuration::{SERVICE, Settings};
use partner_portal::migrations::Migrator;
use partner_portal::startup::Application;
use platform::config::Layers;

#[derive(Parser)]
#[command(name = "partner-portal", version, about = "recommerce partner portal")]
struct Cli {
    /// A TOML file layered between the defaults and the APP_* environment.
    #[arg(long, global = true, env = "APP_CONFIG_FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the consumer and the webhook deliverer (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let layers = Layers::load(SERVICE, cli.config)?;
    let settings = Settings::from_layers(&layers)?;
    let _telemetry = platform::telemetry::init(SERVICE.name, &settings.base.telemetry)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let application = Application::build(settings)
                .await
                .context("the partner portal could not start")?;
            application.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = platform::db::connect(&settings.base.database).await?;
            platform::db::migrate::<Migrator>(&db).await?;
            println!("migrations applied");
        }
    }
    Ok(())
}
