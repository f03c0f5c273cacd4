//! Dead letters: poison messages leave the flow for `<topic>.dlq`, with the error, the
//! attempts and the origin in headers, and a row in the consumer's `dead_letters` table so
//! admins can list them and replay them once the cause is fixed. Services mount the admin
//! routes under their own admin prefix with [`configure`].

use std::time::Duration;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::headers;
use super::runtime::Delivery;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, AuthProblems, ErrorKind, Problem, kinds};
use crate::event_tables::dead_letter;
use crate::kafka::{KafkaSettings, OffRuntime};

/// Writes dead letters; never gives up, because a dead letter that is lost is a lost event.
pub(crate) struct DeadLetterWriter {
    db: DatabaseConnection,
    producer: OffRuntime<FutureProducer>,
    consumer: String,
}

impl DeadLetterWriter {
    pub fn new(
        db: DatabaseConnection,
        kafka: &KafkaSettings,
        consumer: &str,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        Ok(Self {
            db,
            producer: kafka.producer(&format!("{consumer}-dlq"))?,
            consumer: consumer.to_owned(),
        })
    }

    pub async fn write(
        &self,
        delivery: &Delivery,
        envelope: Option<&events::Envelope>,
        error: &str,
        attempts: u32,
    ) {
        let topic = events::topics::dead_letter_topic(&delivery.topic);
        let origin = format!(
            "{}/{}/{}",
            delivery.topic, delivery.partition, delivery.offset
        );
        let attempts_text = attempts.to_string();
        let mut retry = crate::retry::Backoff::up_to(Duration::from_secs(5));
        loop {
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: headers::DLQ_ERROR,
                    value: Some(error),
                })
                .insert(Header {
                    key: headers::DLQ_ATTEMPTS,
                    value: Some(attempts_text.as_str()),
                })
                .insert(Header {
                    key: headers::DLQ_ORIGIN,
                    value: Some(origin.as_str()),
                })
                .insert(Header {
                    key: headers::DLQ_CONSUMER,
                    value: Some(self.consumer.as_str()),
                });
            let record = FutureRecord::to(&topic)
                .key(delivery.key.as_str())
                .payload(delivery.payload.as_slice())
                .headers(headers);
            match self.producer.send(record, Duration::from_secs(5)).await {
                Ok(_) => break,
                Err((kafka_error, _)) => {
                    let pause = retry.next_delay();
                    tracing::warn!(error = %kafka_error, %topic, retry_in = ?pause, "dead-lettering failed; retrying");
                    tokio::time::sleep(pause).await;
                }
            }
        }
        retry.reset();
        loop {
            let row = dead_letter::ActiveModel {
                id: Set(Uuid::now_v7()),
                consumer: Set(self.consumer.clone()),
                event_id: Set(envelope.map(|envelope| envelope.event_id.clone())),
                event_type: Set(envelope.map(|envelope| envelope.event_type.clone())),
                topic: Set(delivery.topic.clone()),
                partition: Set(delivery.partition),
                offset: Set(delivery.offset),
                key: Set(Some(delivery.key.clone())),
                payload: Set(delivery.payload.clone()),
                error: Set(error.to_owned()),
                attempts: Set(i32::try_from(attempts).unwrap_or(i32::MAX)),
                created_at: Set(Utc::now()),
                replayed_at: Set(None),
            };
            match dead_letter::Entity::insert(row).exec(&self.db).await {
                Ok(_) => break,
                Err(db_error) => {
                    let pause = retry.next_delay();
                    tracing::warn!(error = %db_error, retry_in = ?pause, "recording a dead letter failed; retrying");
                    tokio::time::sleep(pause).await;
                }
            }
        }
        tracing::error!(%error, attempts, %origin, "event dead-lettered");
    }
}

/// What the admin routes need: the consumer's database and a producer for replays.
pub struct DeadLetterAdmin {
    db: DatabaseConnection,
    producer: OffRuntime<FutureProducer>,
}

impl DeadLetterAdmin {
    pub fn new(
        db: DatabaseConnection,
        kafka: &KafkaSettings,
        client_id: &str,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        Ok(Self {
            db,
            producer: kafka.producer(client_id)?,
        })
    }
}

/// Mounts `GET dead-letters` and `POST dead-letters/{id}/replay` under the caller's scope.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_dead_letters).service(replay_dead_letter);
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterDto {
    pub id: Uuid,
    pub consumer: String,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub error: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
}

impl From<dead_letter::Model> for DeadLetterDto {
    fn from(row: dead_letter::Model) -> Self {
        Self {
            id: row.id,
            consumer: row.consumer,
            event_id: row.event_id,
            event_type: row.event_type,
            topic: row.topic,
            partition: row.partition,
            offset: row.offset,
            key: row.key,
            error: row.error,
            attempts: row.attempts,
            created_at: row.created_at,
            replayed_at: row.replayed_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Include dead letters already replayed.
    #[serde(default)]
    pub include_replayed: bool,
    #[param(minimum = 1, default = 1)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterList {
    pub items: Vec<DeadLetterDto>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

const NOT_FOUND: ErrorKind = ErrorKind::new(
    actix_web::http::StatusCode::NOT_FOUND,
    "dead_letter_not_found",
    "No such dead letter",
);
const ALREADY_REPLAYED: ErrorKind = ErrorKind::new(
    actix_web::http::StatusCode::CONFLICT,
    "dead_letter_already_replayed",
    "The dead letter was replayed already",
);

fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "dead-letter admin failed");
    ApiError::new(kinds::INTERNAL, "Internal error")
}

/// Dead letters of this service's consumers, newest first.
#[utoipa::path(
    tag = "dead letters",
    security(("bearer" = [])),
    params(DeadLetterQuery),
    responses((status = 200, body = DeadLetterList), (status = 400, body = Problem, content_type = "application/problem+json"), AuthProblems)
)]
#[get("/dead-letters")]
pub async fn list_dead_letters(
    principal: Principal,
    query: web::Query<DeadLetterQuery>,
    admin: web::Data<DeadLetterAdmin>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Admin])?;
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(20);
    if page == 0 || !(1..=100).contains(&per_page) {
        return Err(ApiError::new(
            kinds::INVALID_QUERY,
            "page ≥ 1 and per_page 1–100",
        ));
    }
    let mut select = dead_letter::Entity::find();
    if !query.include_replayed {
        select = select.filter(dead_letter::Column::ReplayedAt.is_null());
    }
    let total = select.clone().count(&admin.db).await.map_err(internal)?;
    let rows = select
        .order_by_desc(dead_letter::Column::CreatedAt)
        .order_by_desc(dead_letter::Column::Id)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .all(&admin.db)
        .await
        .map_err(internal)?;
    Ok(HttpResponse::Ok().json(DeadLetterList {
        items: rows.into_iter().map(DeadLetterDto::from).collect(),
        page,
        per_page,
        total,
    }))
}

/// Puts a dead letter back on its original topic, to be handled again. Once only.
#[utoipa::path(
    tag = "dead letters",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 202, body = DeadLetterDto, description = "Republished; it will be handled again"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        AuthProblems
    )
)]
#[post("/dead-letters/{id}/replay")]
pub async fn replay_dead_letter(
    principal: Principal,
    id: web::Path<Uuid>,
    admin: web::Data<DeadLetterAdmin>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Admin])?;
    let id = id.into_inner();
    let row = dead_letter::Entity::find_by_id(id)
        .one(&admin.db)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(NOT_FOUND, format!("dead letter {id} does not exist")))?;
    // Claim it first, so two admins clicking at once replay it once.
    let claimed = dead_letter::Entity::update_many()
        .col_expr(dead_letter::Column::ReplayedAt, Expr::value(Utc::now()))
        .filter(dead_letter::Column::Id.eq(id))
        .filter(dead_letter::Column::ReplayedAt.is_null())
        .exec(&admin.db)
        .await
        .map_err(internal)?;
    if claimed.rows_affected == 0 {
        return Err(ApiError::new(
            ALREADY_REPLAYED,
            format!("dead letter {id} was replayed already"),
        ));
    }
    let headers = OwnedHeaders::new().insert(Header {
        key: headers::REPLAY,
        value: Some("true"),
    });
    let mut record = FutureRecord::to(&row.topic)
        .payload(row.payload.as_slice())
        .headers(headers);
    if let Some(key) = &row.key {
        record = record.key(key.as_str());
    }
    if let Err((error, _)) = admin.producer.send(record, Duration::from_secs(5)).await {
        // Undo the claim so the replay can be tried again.
        dead_letter::Entity::update_many()
            .col_expr(
                dead_letter::Column::ReplayedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(dead_letter::Column::Id.eq(id))
            .exec(&admin.db)
            .await
            .map_err(internal)?;
        return Err(ApiError::new(
            kinds::NOT_READY,
            format!("the broker did not accept the replay: {error}"),
        ));
    }
    let row = dead_letter::Entity::find_by_id(id)
        .one(&admin.db)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(NOT_FOUND, format!("dead letter {id} does not exist")))?;
    Ok(HttpResponse::Accepted().json(DeadLetterDto::from(row)))
}
