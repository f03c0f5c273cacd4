//! Parked events: outbox rows the broker would not take (too large, an invalid topic, or
//! refused round after round while it took the others). The relay skips them so the rest
//! keep flowing; admins list them here and, once the cause is fixed, send them back to the
//! relay. They stay unsent, never deleted: a parked event is an event not yet delivered.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Allow, Principal, Role};
use crate::error::{ApiError, AuthProblems, ErrorKind, Problem, kinds};
use crate::event_tables::outbox;
use crate::pagination::PageQuery;

/// The database the admin routes read and write (the request pool).
pub struct ParkedEvents {
    pub(crate) db: DatabaseConnection,
}

impl ParkedEvents {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Mounts `GET outbox/parked` and `POST outbox/parked/{event_id}/retry` under the caller's
/// scope.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_parked_events).service(retry_parked_event);
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ParkedEventDto {
    pub event_id: Uuid,
    pub event_type: String,
    pub topic: String,
    /// The aggregate (an order, say) whose later events consumers hold behind this one.
    pub aggregate_id: String,
    pub payload_bytes: usize,
    /// Sends refused while the broker took other events.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub parked_at: Option<DateTime<Utc>>,
}

impl From<outbox::Model> for ParkedEventDto {
    fn from(row: outbox::Model) -> Self {
        Self {
            event_id: row.event_id,
            event_type: row.event_type,
            topic: row.topic,
            aggregate_id: row.aggregate_id,
            payload_bytes: row.payload.len(),
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: row.created_at,
            parked_at: row.parked_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ParkedEventQuery {
    #[param(minimum = 1, maximum = 10000, default = 1)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ParkedEventList {
    pub items: Vec<ParkedEventDto>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

const NOT_PARKED: ErrorKind = ErrorKind::new(
    actix_web::http::StatusCode::NOT_FOUND,
    "parked_event_not_found",
    "No such parked event",
);

fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "parked-event admin failed");
    ApiError::new(kinds::INTERNAL, "Internal error")
}

fn parked() -> sea_orm::Select<outbox::Entity> {
    outbox::Entity::find()
        .filter(outbox::Column::SentAt.is_null())
        .filter(outbox::Column::ParkedAt.is_not_null())
}

/// Events of this service the broker would not take, oldest first.
#[utoipa::path(
    tag = "parked events",
    security(("bearer" = [])),
    params(ParkedEventQuery),
    responses(
        (status = 200, body = ParkedEventList),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_query_parameter`: page 1–10000, per_page 1–100"),
        AuthProblems
    )
)]
#[get("/outbox/parked", wrap = "Allow::only(&[Role::Admin])")]
pub async fn list_parked_events(
    principal: Principal,
    query: web::Query<ParkedEventQuery>,
    admin: web::Data<ParkedEvents>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Admin])?;
    let request = PageQuery {
        page: query.page,
        per_page: query.per_page,
    }
    .validated()
    .map_err(|reason| ApiError::new(kinds::INVALID_QUERY, reason))?;
    let (page, per_page) = (request.page, request.per_page);
    let total = parked().count(&admin.db).await.map_err(internal)?;
    let rows = parked()
        .order_by_asc(outbox::Column::Id)
        .offset(request.offset())
        .limit(per_page)
        .all(&admin.db)
        .await
        .map_err(internal)?;
    Ok(HttpResponse::Ok().json(ParkedEventList {
        items: rows.into_iter().map(ParkedEventDto::from).collect(),
        page,
        per_page,
        total,
    }))
}

/// Hands a parked event back to the relay, with its attempts reset; it is sent with the
/// next round (and parked again if the broker still refuses it).
#[utoipa::path(
    tag = "parked events",
    security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 202, description = "Back in the relay's queue"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_path_parameter`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`parked_event_not_found`: no such event, or not parked"),
        AuthProblems
    )
)]
#[post(
    "/outbox/parked/{event_id}/retry",
    wrap = "Allow::only(&[Role::Admin])"
)]
pub async fn retry_parked_event(
    principal: Principal,
    event_id: web::Path<Uuid>,
    admin: web::Data<ParkedEvents>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Admin])?;
    let event_id = event_id.into_inner();
    let released = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::ParkedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .filter(outbox::Column::EventId.eq(event_id))
        .filter(outbox::Column::SentAt.is_null())
        .filter(outbox::Column::ParkedAt.is_not_null())
        .exec(&admin.db)
        .await
        .map_err(internal)?;
    if released.rows_affected == 0 {
        return Err(ApiError::new(
            NOT_PARKED,
            format!("event {event_id} is not parked"),
        ));
    }
    crate::outbox::committed();
    Ok(HttpResponse::Accepted().finish())
}
