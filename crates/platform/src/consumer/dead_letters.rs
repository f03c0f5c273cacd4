//! Dead letters: poison messages leave the flow for `<topic>.dlq`, with the error, the
//! attempts and the origin in headers, and a row in the consumer's `dead_letters` table so
//! admins can list them and replay them once the cause is fixed. Services mount the admin
//! routes under their own admin prefix with [`configure`].

use std::time::Duration;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::apply::{Gap, SlotPassed, pass_slot};
use super::headers;
use super::runtime::Delivery;
use crate::auth::{Allow, Principal, Role};
use crate::error::{ApiError, AuthProblems, ErrorKind, Problem, kinds};
use crate::event_tables::{dead_letter, held_event};
use crate::kafka::{KafkaSettings, OffRuntime};
use crate::pagination::{PageQuery, PageRequest};

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
                resolution: Set(None),
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

impl DeadLetterWriter {
    /// Records, once, that `gap`'s key has waited past the bound for an event that has not
    /// come. A row only (there is no message to put on the DLQ topic): its envelope names
    /// the missing slot, so it lists, counts and is passed like any dead letter.
    pub async fn record_gap(&self, gap: &Gap) {
        let name = format!(
            "{}/{}/{}/{}",
            self.consumer, gap.producer, gap.aggregate_id, gap.expected
        );
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes());
        let envelope = events::Envelope {
            event_id: id.to_string(),
            event_type: GAP.to_owned(),
            aggregate_id: gap.aggregate_id.clone(),
            aggregate_seq: u64::try_from(gap.expected).unwrap_or(0),
            producer: gap.producer.clone(),
            ..events::Envelope::default()
        };
        let error = format!(
            "{}'s event {} for {} never arrived; {} later event(s) are held behind it",
            gap.producer, gap.expected, gap.aggregate_id, gap.held
        );
        let row = dead_letter::ActiveModel {
            id: Set(id),
            consumer: Set(self.consumer.clone()),
            event_id: Set(None),
            event_type: Set(Some(GAP.to_owned())),
            topic: Set(gap.topic.clone()),
            partition: Set(-1),
            offset: Set(-1),
            key: Set(Some(gap.aggregate_id.clone())),
            payload: Set(prost::Message::encode_to_vec(&envelope)),
            error: Set(error.clone()),
            attempts: Set(0),
            created_at: Set(Utc::now()),
            replayed_at: Set(None),
            resolution: Set(None),
        };
        let inserted = dead_letter::Entity::insert(row)
            .on_conflict(
                OnConflict::column(dead_letter::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await;
        match inserted {
            Ok(1) => tracing::error!(%error, "gap dead-lettered"),
            Ok(_) => {}
            Err(db_error) => {
                tracing::warn!(error = %db_error, "recording a gap failed; tried again next round")
            }
        }
    }
}

/// The `event_type` of a dead letter that stands for an event that never came.
pub const GAP: &str = "gap";

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

/// Mounts `GET dead-letters`, `POST dead-letters/{id}/replay` and
/// `POST dead-letters/{id}/skip` under the caller's scope.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_dead_letters)
        .service(replay_dead_letter)
        .service(skip_dead_letter);
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
    /// When it was resolved (replayed or skipped).
    pub replayed_at: Option<DateTime<Utc>>,
    /// `replayed` or `skipped` once resolved.
    pub resolution: Option<String>,
    /// The key's later events held behind it: they are applied once it is replayed or
    /// skipped. A dead letter with `event_type` `gap` stands for an event that never came.
    pub held_behind: u64,
}

impl DeadLetterDto {
    fn new(row: dead_letter::Model, held_behind: u64) -> Self {
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
            resolution: row.resolution,
            held_behind,
        }
    }
}

/// Dead letter `id`, or 404 `dead_letter_not_found`.
async fn dead_letter_row(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<dead_letter::Model, ApiError> {
    dead_letter::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(NOT_FOUND, format!("dead letter {id} does not exist")))
}

/// The envelope a dead letter carries, when it is one.
fn envelope_of(row: &dead_letter::Model) -> Option<events::Envelope> {
    <events::Envelope as prost::Message>::decode(row.payload.as_slice()).ok()
}

/// How many of the dead letter's key's later events are held behind it.
async fn held_behind(db: &DatabaseConnection, row: &dead_letter::Model) -> Result<u64, ApiError> {
    let Some(envelope) = envelope_of(row).filter(|envelope| envelope.aggregate_seq > 0) else {
        return Ok(0);
    };
    held_event::Entity::find()
        .filter(held_event::Column::Consumer.eq(row.consumer.clone()))
        .filter(held_event::Column::Producer.eq(envelope.producer))
        .filter(held_event::Column::AggregateId.eq(envelope.aggregate_id))
        .filter(
            held_event::Column::Seq.gt(i64::try_from(envelope.aggregate_seq).unwrap_or(i64::MAX)),
        )
        .count(db)
        .await
        .map_err(internal)
}

async fn dto(db: &DatabaseConnection, row: dead_letter::Model) -> Result<DeadLetterDto, ApiError> {
    let held = held_behind(db, &row).await?;
    Ok(DeadLetterDto::new(row, held))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Include dead letters already replayed.
    #[serde(default)]
    pub include_replayed: bool,
    #[param(minimum = 1, maximum = 10000, default = 1)]
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
    "The dead letter was replayed or skipped already",
);
const IS_A_GAP: ErrorKind = ErrorKind::new(
    actix_web::http::StatusCode::CONFLICT,
    "dead_letter_is_a_gap",
    "There is no event to replay: it never came. Skip it, or let it arrive",
);
const EARLIER_SLOT_OPEN: ErrorKind = ErrorKind::new(
    actix_web::http::StatusCode::CONFLICT,
    "earlier_event_missing",
    "An earlier event of this key is still missing; resolve that one first",
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
    responses((status = 200, body = DeadLetterList), (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_query_parameter`: page 1–10000, per_page 1–100"), AuthProblems)
)]
#[get("/dead-letters", wrap = "Allow::only(&[Role::Admin])")]
pub async fn list_dead_letters(
    principal: Principal,
    query: web::Query<DeadLetterQuery>,
    admin: web::Data<DeadLetterAdmin>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Admin])?;
    // Bounded like every list, so a huge page is a 400, not an overflow.
    let PageRequest { page, per_page } = PageQuery {
        page: query.page,
        per_page: query.per_page,
    }
    .validated()
    .map_err(|reason| ApiError::new(kinds::INVALID_QUERY, reason))?;
    let mut select = dead_letter::Entity::find();
    if !query.include_replayed {
        select = select.filter(dead_letter::Column::ReplayedAt.is_null());
    }
    let total = select.clone().count(&admin.db).await.map_err(internal)?;
    let rows = select
        .order_by_desc(dead_letter::Column::CreatedAt)
        .order_by_desc(dead_letter::Column::Id)
        .offset(PageRequest { page, per_page }.offset())
        .limit(per_page)
        .all(&admin.db)
        .await
        .map_err(internal)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(dto(&admin.db, row).await?);
    }
    Ok(HttpResponse::Ok().json(DeadLetterList {
        items,
        page,
        per_page,
        total,
    }))
}

/// Puts a dead letter back on its original topic, to be handled again. Once only. If its
/// key's later events are held behind it, it takes its place in the sequence and they
/// follow it in order.
#[utoipa::path(
    tag = "dead letters",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 202, body = DeadLetterDto, description = "Republished; it will be handled again"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_path_parameter`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`dead_letter_not_found`"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`dead_letter_already_replayed` (replayed or skipped already), `dead_letter_is_a_gap` (no event to replay)"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "`not_ready`: the broker did not take the replay; try again"),
        AuthProblems
    )
)]
#[post("/dead-letters/{id}/replay", wrap = "Allow::only(&[Role::Admin])")]
pub async fn replay_dead_letter(
    principal: Principal,
    id: web::Path<Uuid>,
    admin: web::Data<DeadLetterAdmin>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Admin])?;
    let id = id.into_inner();
    let row = dead_letter_row(&admin.db, id).await?;
    if row.event_type.as_deref() == Some(GAP) {
        return Err(ApiError::new(
            IS_A_GAP,
            format!("dead letter {id} stands for an event that never came: skip it instead"),
        ));
    }
    // Claim it first, so two admins clicking at once replay it once.
    let claimed = dead_letter::Entity::update_many()
        .col_expr(dead_letter::Column::ReplayedAt, Expr::value(Utc::now()))
        .col_expr(dead_letter::Column::Resolution, Expr::value("replayed"))
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
            .col_expr(
                dead_letter::Column::Resolution,
                Expr::value(Option::<String>::None),
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
    let row = dead_letter_row(&admin.db, id).await?;
    Ok(HttpResponse::Accepted().json(dto(&admin.db, row).await?))
}

/// Gives up on a dead letter: its slot in its key's sequence is passed without applying
/// it, and the key's later events held behind it are applied in order. For an event that
/// can never be applied (or, for a `gap`, never came). Once only.
#[utoipa::path(
    tag = "dead letters",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = DeadLetterDto, description = "Skipped; what was held behind it follows"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_path_parameter`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`dead_letter_not_found`"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`dead_letter_already_replayed` (replayed or skipped already), `earlier_event_missing` (an earlier slot of the key is open: resolve that first)"),
        AuthProblems
    )
)]
#[post("/dead-letters/{id}/skip", wrap = "Allow::only(&[Role::Admin])")]
pub async fn skip_dead_letter(
    principal: Principal,
    id: web::Path<Uuid>,
    admin: web::Data<DeadLetterAdmin>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Admin])?;
    let id = id.into_inner();
    let row = dead_letter_row(&admin.db, id).await?;
    if row.replayed_at.is_some() {
        return Err(ApiError::new(
            ALREADY_REPLAYED,
            format!("dead letter {id} was resolved already"),
        ));
    }
    // Not an envelope, or not sequenced: there is no slot to pass.
    if let Some(envelope) = envelope_of(&row).filter(|envelope| envelope.aggregate_seq > 0) {
        let passed = pass_slot(
            &admin.db,
            &row.consumer,
            &envelope.producer,
            &envelope.aggregate_id,
            envelope.aggregate_seq,
        )
        .await
        .map_err(internal)?;
        if let SlotPassed::EarlierOpen { expected } = passed {
            return Err(ApiError::new(
                EARLIER_SLOT_OPEN,
                format!(
                    "event {expected} of {} from {} is still missing; resolve it first",
                    envelope.aggregate_id, envelope.producer
                ),
            ));
        }
    }
    let claimed = dead_letter::Entity::update_many()
        .col_expr(dead_letter::Column::ReplayedAt, Expr::value(Utc::now()))
        .col_expr(dead_letter::Column::Resolution, Expr::value("skipped"))
        .filter(dead_letter::Column::Id.eq(id))
        .filter(dead_letter::Column::ReplayedAt.is_null())
        .exec(&admin.db)
        .await
        .map_err(internal)?;
    if claimed.rows_affected == 0 {
        return Err(ApiError::new(
            ALREADY_REPLAYED,
            format!("dead letter {id} was resolved already"),
        ));
    }
    let row = dead_letter_row(&admin.db, id).await?;
    Ok(HttpResponse::Ok().json(dto(&admin.db, row).await?))
}

/// What a consumer leaves waiting, as gauges every instance reports: dead letters not yet
/// replayed or skipped, the keys they hold up (their later events wait behind them), and
/// events held for a predecessor. The same on every instance (they count the database).
#[derive(Clone)]
pub struct WaitingGauges {
    open: prometheus::IntGauge,
    blocked_keys: prometheus::IntGauge,
    held: prometheus::IntGauge,
}

impl WaitingGauges {
    pub fn new(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let gauges = Self {
            open: prometheus::IntGauge::new(
                "consumer_dead_letters_open",
                "Dead letters not yet replayed or skipped",
            )?,
            blocked_keys: prometheus::IntGauge::new(
                "consumer_blocked_keys",
                "Keys whose later events wait behind an open dead letter",
            )?,
            held: prometheus::IntGauge::new(
                "consumer_held_events",
                "Events held until their predecessor is applied or passed",
            )?,
        };
        registry.register(Box::new(gauges.open.clone()))?;
        registry.register(Box::new(gauges.blocked_keys.clone()))?;
        registry.register(Box::new(gauges.held.clone()))?;
        Ok(gauges)
    }

    /// Counts `consumer`'s in `db`; a failed count leaves the last reading standing.
    pub async fn read(&self, db: &DatabaseConnection, consumer: &str) {
        use sea_orm::{PaginatorTrait, QuerySelect};
        let open = dead_letter::Entity::find()
            .filter(dead_letter::Column::Consumer.eq(consumer))
            .filter(dead_letter::Column::ReplayedAt.is_null());
        let blocked: Result<Option<i64>, sea_orm::DbErr> = open
            .clone()
            .select_only()
            .column_as(Expr::cust("COUNT(DISTINCT key)"), "keys")
            .into_tuple()
            .one(db)
            .await;
        let held = crate::event_tables::held_event::Entity::find()
            .filter(crate::event_tables::held_event::Column::Consumer.eq(consumer))
            .count(db)
            .await;
        match (open.count(db).await, blocked, held) {
            (Ok(open), Ok(blocked), Ok(held)) => {
                self.open.set(i64::try_from(open).unwrap_or(i64::MAX));
                self.blocked_keys.set(blocked.unwrap_or(0));
                self.held.set(i64::try_from(held).unwrap_or(i64::MAX));
            }
            (open, blocked, held) => tracing::warn!(
                ?open,
                ?blocked,
                ?held,
                consumer,
                "counting what the consumer leaves waiting failed"
            ),
        }
    }
}
