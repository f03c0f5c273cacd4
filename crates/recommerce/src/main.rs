//! Thin entry point: parse the command line and hand over to the library.

use clap::Parser;

/// mimalloc, not glibc's malloc: under request load the services spent a large share of their
/// CPU in glibc's allocator (taking and consolidating free chunks), and its per-thread arenas
/// keep freed memory resident long after a peak.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started_at = std::time::Instant::now();
    recommerce::cli::run(recommerce::cli::Cli::parse(), started_at).await
}
