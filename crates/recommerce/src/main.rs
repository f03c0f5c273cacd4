//! Thin entry point: parse the command line and hand over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started_at = std::time::Instant::now();
    recommerce::cli::run(recommerce::cli::Cli::parse(), started_at).await
}
