//! What every service's `Application::build` can fail on, and how every service stops: one
//! shape, so a service only says what is its own (routes, workers, settings).

use std::time::Duration;

use actix_web::dev::Server;
use sea_orm::DatabaseConnection;

use crate::background::Background;

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
}

/// Serves until SIGINT/SIGTERM or the server's handle stops it, finishing in-flight
/// requests; then consumers commit what they finished, loops end, the relay flushes its
/// batch in flight (the rest waits in the outbox), and the pool closes.
pub async fn run_until_stopped(
    server: Server,
    background: Background,
    db: DatabaseConnection,
    grace: Duration,
) -> std::io::Result<()> {
    let result = server.await;
    background.shutdown(grace).await;
    if let Err(error) = db.close().await {
        tracing::warn!(%error, "closing the database pool failed");
    }
    result
}
