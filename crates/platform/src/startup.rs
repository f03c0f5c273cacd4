//! What every service's `Application::build` can fail on, and how every service stops: one
//! shape, so a service only says what is its own (routes, workers, settings).

use std::time::Duration;

use actix_web::dev::Server;
use tokio::time::Instant;

use crate::background::Background;
use crate::db::Pools;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the database is unavailable: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("Redis is configured but unavailable: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the sequencer cannot be set up: {0}")]
    Sequencer(#[from] crate::sequencer::SequencerError),
    #[error("metrics could not be registered: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the HTTP server could not start: {0}")]
    Http(#[from] std::io::Error),
    #[error("an HTTP client for another service could not be built: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("the outbox relay could not start: {0}")]
    Relay(#[from] crate::outbox::RelayBuildError),
    #[error("the consumer could not start: {0}")]
    Consumer(#[from] crate::consumer::ConsumerError),
    #[error("the broker client could not be created: {0}")]
    Broker(#[from] rdkafka::error::KafkaError),
    #[error("the settings are invalid: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("seeding failed: {0}")]
    Seed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Serves until SIGINT/SIGTERM or the server's handle stops it, then stops within `grace`
/// in all, whatever is gone (broker, database, Redis): in-flight requests finish (for at
/// most half the grace period), then consumers commit what they finished, loops end, the
/// relay flushes its batch in flight (the rest waits in the outbox), and the pool closes.
/// Work still running at the deadline is abandoned, to be redone by the next instance.
pub async fn run_until_stopped(
    server: Server,
    background: Background,
    pools: Pools,
    grace: Duration,
) -> std::io::Result<()> {
    let (result, deadline) = serve_until_stopped(server, grace).await;
    background.shutdown_by(deadline).await;
    let deadline = deadline.max(Instant::now() + DB_CLOSE_FLOOR);
    for pool in [pools.background, pools.requests] {
        match tokio::time::timeout_at(deadline, pool.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "closing a database pool failed"),
            Err(_) => tracing::warn!("a database pool did not close in time"),
        }
    }
    result
}

/// For a server with nothing behind it (the edge): serves until a stop signal or its handle
/// stops it, draining in-flight requests within `grace`.
pub async fn run_http_until_stopped(server: Server, grace: Duration) -> std::io::Result<()> {
    serve_until_stopped(server, grace).await.0
}

/// Serves until stopped; returns how serving ended and the deadline by which the rest of
/// the service must have stopped too.
async fn serve_until_stopped(server: Server, grace: Duration) -> (std::io::Result<()>, Instant) {
    let handle = server.handle();
    let mut serving = std::pin::pin!(server);
    tokio::select! {
        result = &mut serving => (result, Instant::now() + grace),
        signal = stop_signal() => {
            let deadline = Instant::now() + grace;
            if let Err(error) = signal {
                tracing::error!(%error, "cannot listen for stop signals; stopping");
            }
            tracing::info!(?grace, "stop signal received; stopping");
            // The command goes out at once; it is the server's own future, polled here,
            // that carries it out, so that future is what is waited for.
            let _stopping = handle.stop(true);
            let drained = tokio::time::timeout_at(deadline, &mut serving).await;
            let result = drained.unwrap_or_else(|_| {
                tracing::warn!("requests still running at the deadline were cut off");
                Ok(())
            });
            (result, deadline)
        }
    }
}

/// Even a service that spent its whole grace period gives its pool this long to close.
const DB_CLOSE_FLOOR: Duration = Duration::from_millis(500);

/// Half the grace period (at least a second) for in-flight requests; the other half is the
/// background work's.
pub fn http_drain_seconds(grace_seconds: u64) -> u64 {
    (grace_seconds / 2).max(1)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (how orchestrators stop a pod).
pub async fn stop_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}
