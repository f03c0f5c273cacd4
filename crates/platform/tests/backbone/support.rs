use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use events::{Envelope, Event};
use platform::consumer::{Handle, HandlerError, IncomingEvent};
use prost::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sea_orm::sea_query::{ColumnDef, Expr, ExprTrait, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub const TOPIC: &str = "backbone.test";

/// The test event: which aggregate, and a label.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Counted {
    #[prost(string, tag = "1")]
    pub label: String,
}

impl Event for Counted {
    const EVENT_TYPE: &'static str = "test.Counted";
    const TOPIC: &'static str = TOPIC;
}

struct Migrator;

#[async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(platform::event_tables::Migration),
            Box::new(platform::event_tables::ParkOutboxRows),
            Box::new(platform::event_tables::HoldEarlyEvents),
            Box::new(platform::due_work::Migration),
            Box::new(platform::due_work::CarryTraceContext),
        ]
    }
}

/// A fresh, migrated database with an `effects` table the test handlers write to.
pub async fn database() -> DatabaseConnection {
    let url = platform::testing::fresh_database("backbone").await;
    // Opened as services open it (WAL on SQLite); two consumer instances, direct calls and
    // the test's own polling share the pool.
    let db = platform::db::connect(&platform::config::DatabaseSettings {
        url: url.into(),
        max_connections: 20,
        background_connections: 5,
        connect_timeout_seconds: 60,
        migrate_on_start: true,
    })
    .await
    .unwrap();
    platform::db::migrate::<Migrator>(&db).await.unwrap();
    let create = Table::create()
        .table(sea_orm::sea_query::Alias::new("effects"))
        .col(
            ColumnDef::new(sea_orm::sea_query::Alias::new("id"))
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(
            ColumnDef::new(sea_orm::sea_query::Alias::new("aggregate"))
                .string()
                .not_null(),
        )
        .col(
            ColumnDef::new(sea_orm::sea_query::Alias::new("seq"))
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(sea_orm::sea_query::Alias::new("position"))
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(sea_orm::sea_query::Alias::new("source"))
                .string()
                .not_null(),
        )
        .to_owned();
    db.execute(&create).await.unwrap();
    db
}

fn alias(name: &str) -> sea_orm::sea_query::Alias {
    sea_orm::sea_query::Alias::new(name)
}

/// Records one effect for `aggregate`. Its position is "effects so far + 1", read and
/// written in two steps: if two effects for one aggregate ever ran at the same time, two
/// rows would get the same position.
pub async fn record_effect<C: ConnectionTrait>(
    db: &C,
    aggregate: &str,
    seq: i64,
    source: &str,
) -> Result<(), sea_orm::DbErr> {
    let count = Query::select()
        .expr(Expr::col(alias("id")).count())
        .from(alias("effects"))
        .and_where(Expr::col(alias("aggregate")).eq(aggregate))
        .to_owned();
    let row = db.query_one(&count).await?.unwrap();
    let existing: i64 = row.try_get_by_index(0)?;
    tokio::time::sleep(Duration::from_millis(2)).await;
    let insert = Query::insert()
        .into_table(alias("effects"))
        .columns([
            alias("aggregate"),
            alias("seq"),
            alias("position"),
            alias("source"),
        ])
        .values_panic([
            aggregate.into(),
            seq.into(),
            (existing + 1).into(),
            source.into(),
        ])
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// (aggregate, seq, position, source) of every effect, in insertion order.
pub async fn effects(db: &DatabaseConnection) -> Vec<(String, i64, i64, String)> {
    let select = Query::select()
        .columns([
            alias("aggregate"),
            alias("seq"),
            alias("position"),
            alias("source"),
        ])
        .from(alias("effects"))
        .order_by(alias("id"), sea_orm::Order::Asc)
        .to_owned();
    db.query_all(&select)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            (
                row.try_get_by_index(0).unwrap(),
                row.try_get_by_index(1).unwrap(),
                row.try_get_by_index(2).unwrap(),
                row.try_get_by_index(3).unwrap(),
            )
        })
        .collect()
}

/// Writes an effect per event; fails transiently while `broken` is set.
#[derive(Clone, Default)]
pub struct EffectHandler {
    pub broken: Arc<AtomicBool>,
}

#[async_trait]
impl Handle<Counted> for EffectHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        _event: Counted,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(HandlerError::Transient("the handler is broken".into()));
        }
        let seq = i64::try_from(incoming.envelope.aggregate_seq).unwrap();
        // Database trouble is infrastructure, not a poison event: retry without a limit.
        record_effect(txn, &incoming.envelope.aggregate_id, seq, "event")
            .await
            .map_err(|error| HandlerError::Unavailable(error.to_string()))
    }
}

pub fn envelope(aggregate: &str, seq: u64) -> Envelope {
    Envelope::wrap(
        &Counted {
            label: format!("{aggregate}#{seq}"),
        },
        aggregate,
        seq,
        "test-producer",
        "",
    )
}

/// Produces an envelope straight to `partition` (not through the outbox), as a relay would.
pub async fn produce(producer: &FutureProducer, envelope: &Envelope, partition: Option<i32>) {
    let payload = envelope.encode_to_vec();
    let mut record = FutureRecord::to(TOPIC)
        .key(envelope.aggregate_id.as_str())
        .payload(payload.as_slice());
    if let Some(partition) = partition {
        record = record.partition(partition);
    }
    producer
        .send(record, Duration::from_secs(10))
        .await
        .unwrap();
}

/// A plain consumer reading `topic` from the beginning in its own group.
pub fn reader(brokers: &str, topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// The value of a counter (with these label values) in `registry`.
pub fn counter(registry: &prometheus::Registry, name: &str, label: Option<&str>) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric().to_vec())
        .filter(|metric| {
            label.is_none_or(|label| metric.get_label().iter().any(|pair| pair.value() == label))
        })
        .map(|metric| metric.get_counter().get_value())
        .sum()
}

/// A running HTTP app holding only the given routes, plus an admin token for it.
pub struct AdminApp {
    address: String,
    token: String,
    client: reqwest::Client,
}

pub async fn admin_app<F>(configure: F) -> AdminApp
where
    F: Fn(&mut utoipa_actix_web::service_config::ServiceConfig) + Send + Clone + 'static,
{
    use platform::auth::{Authenticator, Role};
    let layers = platform::config::Layers::defaults(platform::config::ServiceDefaults {
        name: "test",
        port: 0,
    })
    .unwrap()
    .set("profile", "test")
    .unwrap()
    .set("auth.jwt_secret", "a-test-secret-that-is-at-least-32-bytes")
    .unwrap();
    let base = layers.base().unwrap();
    let authenticator = Authenticator::new(&base.auth);
    let token = authenticator
        .issue("admin", Role::Admin, None, Duration::from_secs(600))
        .unwrap();
    let listener = platform::http::bind(&base.http).unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let parts = platform::http::ServerParts {
        http: base.http.clone(),
        openapi: platform::http::openapi_skeleton("test", "test"),
        admission: platform::admission::Admission::new(
            0,
            0,
            platform::background::RequestLoad::never_yield(),
        ),
        authenticator,
        health: platform::health::HealthChecks::default(),
        metrics_registry: prometheus::Registry::new(),
        metrics_namespace: "test".into(),
    };
    let server = platform::http::serve(listener, parts, configure).unwrap();
    tokio::spawn(server);
    AdminApp {
        address,
        token,
        client: reqwest::Client::new(),
    }
}

impl AdminApp {
    pub async fn get(&self, path: &str) -> serde_json::Value {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The status and body of a GET, whatever the status.
    pub async fn get_any(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn post(&self, path: &str) -> u16 {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// Fails the test at once, with the reason, if anything was dead-lettered: a dead letter
/// would otherwise only show as a timeout.
pub async fn assert_no_dead_letters(db: &DatabaseConnection) {
    use sea_orm::EntityTrait;
    let letters = platform::event_tables::dead_letter::Entity::find()
        .all(db)
        .await
        .unwrap();
    assert!(
        letters.is_empty(),
        "dead letters: {:?}",
        letters.iter().map(|l| &l.error).collect::<Vec<_>>()
    );
}

/// The value of Kafka header `name` on `message`, as text.
pub fn header(message: &impl rdkafka::Message, name: &str) -> Option<String> {
    use rdkafka::message::Headers;
    let headers = message.headers()?;
    headers
        .iter()
        .find(|header| header.key == name)
        .and_then(|header| header.value)
        .map(|value| String::from_utf8_lossy(value).into_owned())
}
