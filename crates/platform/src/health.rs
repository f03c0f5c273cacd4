//! Liveness says "the process answers"; readiness says "it can do useful work", so it checks
//! exactly the dependencies this instance was configured with and nothing else. k8s routes
//! traffic by readiness and restarts by liveness, so liveness must never check dependencies.
//! The broker is advisory: every write leaves through the outbox, so an instance whose broker is
//! down still accepts work, and taking it out of rotation would break the promise that orders
//! are accepted while Kafka is down. It is reported as `degraded`, never as not ready.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, kinds};

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency probed by `/health/ready`.
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &'static str;
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

#[derive(Clone, Default)]
pub struct HealthChecks {
    checks: Vec<(Arc<dyn ReadinessCheck>, Necessity)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Necessity {
    Required,
    Advisory,
}

impl HealthChecks {
    /// A dependency without which requests fail: when it is down the instance is not ready.
    pub fn with(mut self, check: impl ReadinessCheck + 'static) -> Self {
        self.checks.push((Arc::new(check), Necessity::Required));
        self
    }

    /// A dependency that is reported but does not take the instance out of rotation.
    pub fn with_advisory(mut self, check: impl ReadinessCheck + 'static) -> Self {
        self.checks.push((Arc::new(check), Necessity::Advisory));
        self
    }

    /// Runs every check concurrently; `Err` lists each dependency's status.
    pub async fn run(&self) -> Result<Map<String, Value>, Map<String, Value>> {
        let results =
            futures_util::future::join_all(self.checks.iter().map(|(check, necessity)| async {
                let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check.check()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(error),
                    Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
                };
                (check.name(), *necessity, outcome)
            }))
            .await;
        let mut statuses = Map::new();
        let mut healthy = true;
        for (name, necessity, outcome) in results {
            let status = match (outcome, necessity) {
                (Ok(()), _) => "ok".to_owned(),
                (Err(error), Necessity::Required) => {
                    healthy = false;
                    tracing::warn!(dependency = name, %error, "readiness check failed");
                    format!("unavailable: {error}")
                }
                (Err(error), Necessity::Advisory) => {
                    tracing::warn!(dependency = name, %error, "advisory dependency is down");
                    format!("degraded: {error}")
                }
            };
            statuses.insert(name.to_owned(), Value::String(status));
        }
        if healthy { Ok(statuses) } else { Err(statuses) }
    }
}

pub struct DatabaseCheck(pub sea_orm::DatabaseConnection);

impl ReadinessCheck for DatabaseCheck {
    fn name(&self) -> &'static str {
        "database"
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.ping().await.map_err(|error| error.to_string()) })
    }
}

pub struct RedisCheck(pub crate::redis::RedisHandle);

impl ReadinessCheck for RedisCheck {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.ping().await.map_err(|error| error.to_string()) })
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthStatus {
    /// `ok` for liveness, `ready` for readiness.
    pub status: &'static str,
    /// Per dependency: `ok`, `unavailable: <reason>` (not ready) or `degraded: <reason>`
    /// (advisory dependency down; still ready).
    #[schema(value_type = Object)]
    pub checks: Map<String, Value>,
}

/// The process is up and answering.
#[utoipa::path(tag = "health", responses((status = 200, body = HealthStatus)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus {
        status: "ok",
        checks: Map::new(),
    })
}

/// Every configured dependency answers.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, body = HealthStatus),
        (status = 503, description = "A dependency is down", content_type = "application/problem+json")
    )
)]
#[get("/health/ready")]
pub async fn ready(checks: web::Data<HealthChecks>) -> Result<HttpResponse, ApiError> {
    match checks.run().await {
        Ok(statuses) => Ok(HttpResponse::Ok().json(HealthStatus {
            status: "ready",
            checks: statuses,
        })),
        Err(statuses) => Err(ApiError::new(
            kinds::NOT_READY,
            "one or more dependencies are unavailable",
        )
        .with("checks", statuses)),
    }
}

/// The broker answers a metadata request.
pub struct KafkaCheck {
    producer: Arc<crate::kafka::OffRuntime<rdkafka::producer::BaseProducer>>,
}

impl KafkaCheck {
    pub fn new(settings: &crate::kafka::KafkaSettings) -> Result<Self, rdkafka::error::KafkaError> {
        let producer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", settings.brokers.trim())
            .set("client.id", "readiness")
            .create()?;
        Ok(Self {
            producer: Arc::new(crate::kafka::OffRuntime::new(producer)),
        })
    }
}

impl ReadinessCheck for KafkaCheck {
    fn name(&self) -> &'static str {
        "broker"
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        use rdkafka::producer::Producer;
        Box::pin(async move {
            let producer = self.producer.clone();
            crate::kafka::on_own_thread("broker readiness", Duration::from_secs(2), move || {
                producer
                    .client()
                    .fetch_metadata(None, Duration::from_millis(1500))
                    .map(|_| ())
                    .map_err(|error| error.to_string())
            })
            .await
            .unwrap_or_else(|| Err("the broker did not answer in time".to_owned()))
        })
    }
}
