//! One runner for the work a service owes at a time of its own: an order to confirm once
//! quote answers, a job to re-price, a webhook to deliver again, a table to prune.
//!
//! The work is a row in the service's `due_work` table (kind, key, due time), written with
//! [`schedule`] in the same transaction as the state change that creates it, like the
//! outbox: it is never lost, and never owed for a change that rolled back. Any number of
//! instances run the same runners: a runner *claims* due rows by setting a lease on them in
//! one statement (PostgreSQL skips rows another claim holds), so two instances never act on
//! one row at once, and a row whose instance died is claimed again when its lease lapses.
//! A handler that fails has its row retried after [`RetryPolicy::delay`]; it waits alone
//! while the others go on. A runner is woken in-process after a commit ([`Waker`]) and
//! polls only as a fallback; it works on at most `concurrency` rows at a time, or, for work
//! that saves round trips when done together ([`DueWork::run_together`]), on at most
//! `concurrency` groups of up to `together` rows.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sea_orm::sea_query::{Alias, Expr, InsertStatement, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use serde::Deserialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::background::RequestLoad;
use crate::retry::RetryPolicy;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DueWorkSettings {
    /// Rows claimed per round.
    pub batch_size: u64,
    /// Rows worked on at once, per runner (groups of rows, for work done together).
    pub concurrency: usize,
    /// For work done together ([`DueWork::run_together`]): rows handed over at once.
    pub together: usize,
    /// How long a claim holds a row; a row still claimed after this (its instance died
    /// mid-work) is claimed again.
    pub lease_seconds: u64,
    /// How often due rows are looked for when nothing wakes the runner.
    pub poll_interval_ms: u64,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for DueWorkSettings {
    fn default() -> Self {
        Self {
            batch_size: 64,
            concurrency: 4,
            together: 16,
            lease_seconds: 30,
            poll_interval_ms: 250,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
        }
    }
}

impl DueWorkSettings {
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy::new(
            Duration::from_millis(self.retry_initial_ms),
            Duration::from_millis(self.retry_max_ms),
        )
    }
}

/// What became of one row's work.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing more is owed: the row goes (unless it was scheduled again meanwhile).
    Done,
    /// More is owed at this time (the next step, or the next round of a periodic task).
    Again(DateTime<Utc>),
    /// It failed and is tried again after the retry delay; the reason is kept on the row.
    Retry(String),
}

/// One claimed row, as [`DueWork::run_together`] gets it.
#[derive(Debug)]
pub struct Owed {
    pub key: String,
    /// How many attempts failed before.
    pub failures: u32,
    /// The row's own span, continuing the trace of the change that owed it: the row's
    /// calls and writes run in it, so they join that trace as when done alone.
    pub span: tracing::Span,
}

/// The work of one kind of row.
#[async_trait::async_trait]
pub trait DueWork: Send + Sync + 'static {
    /// The `kind` its rows are scheduled under.
    fn kind(&self) -> &'static str;
    /// Does the work owed for `key`; `failures` is how many attempts failed before.
    async fn run(&self, key: &str, failures: u32) -> Outcome;
    /// Whether the runner hands this work its rows in groups ([`DueWork::run_together`]):
    /// for work whose rows share round trips (one read, one call, one transaction for all).
    fn done_together(&self) -> bool {
        false
    }
    /// Does the work owed for several rows at once; one outcome per row, in their order.
    /// By default each row on its own, one after another.
    async fn run_together(&self, owed: &[Owed]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(owed.len());
        for row in owed {
            outcomes.push(
                self.run(&row.key, row.failures)
                    .instrument(row.span.clone())
                    .await,
            );
        }
        outcomes
    }
}

/// Owes `kind` work for `key` at `due_at`, inside `db` (the transaction of the change that
/// creates the work). Scheduling what is already owed keeps the earlier of the two times.
pub async fn schedule<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    key: &str,
    due_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let insert = owed(kind, key, due_at)?;
    db.execute_raw(db.get_database_backend().build(&insert))
        .await
        .map(drop)
}

/// The row [`schedule`] writes, for writing together with the change that creates the work
/// in one [`crate::db::Writes`].
pub fn owed(kind: &str, key: &str, due_at: DateTime<Utc>) -> Result<InsertStatement, DbErr> {
    let column = |name: &str| Alias::new(name);
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("due_work"))
        .columns(
            [
                "kind",
                "key",
                "due_at",
                "attempts",
                "generation",
                "created_at",
                "traceparent",
            ]
            .map(column),
        )
        .values([
            kind.into(),
            key.into(),
            due_at.into(),
            0.into(),
            0.into(),
            Utc::now().into(),
            crate::telemetry::current_traceparent().into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([column("kind"), column("key")])
                .value(
                    column("due_at"),
                    Expr::cust(
                        "CASE WHEN excluded.due_at < due_work.due_at \
                         THEN excluded.due_at ELSE due_work.due_at END",
                    ),
                )
                .value(column("generation"), Expr::cust("due_work.generation + 1"))
                // The work runs in the trace of the newest change that owed it.
                .value(
                    column("traceparent"),
                    Expr::cust(
                        "CASE WHEN excluded.traceparent <> '' \
                         THEN excluded.traceparent ELSE due_work.traceparent END",
                    ),
                )
                .to_owned(),
        );
    Ok(insert)
}

/// Owes `kind` work for each `(key, due_at)` of `waiting`: for a migration that moves work a
/// service used to find by a column of its own onto `due_work`.
pub async fn schedule_each<C, K>(
    db: &C,
    kind: &str,
    waiting: impl IntoIterator<Item = (K, Option<DateTime<Utc>>)>,
) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    K: std::fmt::Display,
{
    // The columns of the table as its first migration made it: the migrations that call
    // this run before later columns exist.
    for (key, due_at) in waiting {
        if let Some(due_at) = due_at {
            execute(
                db,
                "INSERT INTO due_work (kind, key, due_at, attempts, generation, created_at) \
                 VALUES (?, ?, ?, 0, 0, ?) ON CONFLICT (kind, key) DO UPDATE SET due_at = \
                 CASE WHEN excluded.due_at < due_work.due_at \
                 THEN excluded.due_at ELSE due_work.due_at END",
                vec![
                    kind.into(),
                    key.to_string().into(),
                    due_at.into(),
                    Utc::now().into(),
                ],
            )
            .await?;
        }
    }
    Ok(())
}

/// The key of a periodic task's one row.
const PERIODIC_KEY: &str = "periodic";

/// A task owed every `every`, done once per round across all instances: its one row
/// reschedules itself. Every instance makes sure a round is owed when it starts
/// ([`Periodic::start_owing`]): the first to start owes one now, the others find it owed
/// and leave its time alone, so instances starting one after another add no rounds.
pub struct Periodic<F> {
    kind: &'static str,
    every: Duration,
    task: F,
}

impl<F, Fut> Periodic<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    pub fn new(kind: &'static str, every: Duration, task: F) -> Self {
        Self { kind, every, task }
    }

    /// Owes a round now, unless one is owed already (another instance started first).
    pub async fn start_owing<C: ConnectionTrait>(&self, db: &C) -> Result<(), DbErr> {
        execute(
            db,
            "INSERT INTO due_work (kind, key, due_at, attempts, generation, created_at) \
             VALUES (?, ?, ?, 0, 0, ?) ON CONFLICT (kind, key) DO NOTHING",
            vec![
                self.kind.into(),
                PERIODIC_KEY.into(),
                Utc::now().into(),
                Utc::now().into(),
            ],
        )
        .await
        .map(drop)
    }

    /// Runner settings for it: nothing wakes a periodic task, so its runner looks for its
    /// row seldom, and never more than once a round.
    pub fn settings(&self, retry: RetryPolicy) -> DueWorkSettings {
        let poll = self.every.min(Duration::from_secs(60));
        DueWorkSettings {
            batch_size: 1,
            concurrency: 1,
            poll_interval_ms: u64::try_from(poll.as_millis()).unwrap_or(60_000),
            retry_initial_ms: u64::try_from(retry.initial.as_millis()).unwrap_or(1_000),
            retry_max_ms: u64::try_from(retry.max.as_millis()).unwrap_or(60_000),
            ..DueWorkSettings::default()
        }
    }
}

#[async_trait::async_trait]
impl<F, Fut> DueWork for Periodic<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn run(&self, _key: &str, _failures: u32) -> Outcome {
        match (self.task)().await {
            Ok(()) => Outcome::Again(
                Utc::now()
                    + chrono::Duration::from_std(self.every)
                        .unwrap_or_else(|_| chrono::Duration::hours(1)),
            ),
            Err(reason) => Outcome::Retry(reason),
        }
    }
}

/// Owes a round of the periodic task `kind` now, ahead of its schedule (something it looks
/// at changed); wake its runner after the commit.
pub async fn owe_round_now<C: ConnectionTrait>(db: &C, kind: &str) -> Result<(), DbErr> {
    schedule(db, kind, PERIODIC_KEY, Utc::now()).await
}

/// Tells a runner that work was committed for it, so it need not wait for its next poll.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// How long a stopping runner lets the rows in hand finish before it gives them back:
/// within the service's window for work in hand, with time left to write.
pub const FINISH_ON_STOP: Duration = Duration::from_secs(1);

/// A row as a claim hands it over.
#[derive(Debug)]
struct Claimed {
    id: i64,
    key: String,
    attempts: u32,
    generation: i64,
    /// The trace of the change that owed the work ('' when none was being exported).
    traceparent: String,
}

pub struct DueWorkRunner {
    db: DatabaseConnection,
    work: Arc<dyn DueWork>,
    settings: DueWorkSettings,
    waker: Waker,
    requests: RequestLoad,
}

impl DueWorkRunner {
    pub fn new(db: DatabaseConnection, work: Arc<dyn DueWork>, settings: DueWorkSettings) -> Self {
        Self {
            db,
            work,
            settings,
            waker: Waker::default(),
            requests: RequestLoad::never_yield(),
        }
    }

    /// Each claim and each row wait for a busy service's requests first (see
    /// [`RequestLoad`]).
    pub fn giving_way_to(mut self, requests: RequestLoad) -> Self {
        self.requests = requests;
        self
    }

    /// Whoever schedules this runner's work wakes it through this after committing.
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// Works until `stop`. The rows in hand then get [`FINISH_ON_STOP`] to finish; the
    /// rest are given back (their lease cleared) so that another instance, or the next
    /// one, takes them at once rather than when the lease lapses.
    pub async fn run(self, stop: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(1));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.requests.give_way() => {}
            }
            let claimed = match self.claim().await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(kind = self.work.kind(), %error, "claiming due work failed");
                    Vec::new()
                }
            };
            let full = claimed.len() as u64 >= self.settings.batch_size;
            let in_hand: std::sync::Mutex<Vec<i64>> =
                std::sync::Mutex::new(claimed.iter().map(|row| row.id).collect());
            let groups = if self.work.done_together() {
                self.settings.together.max(1)
            } else {
                1
            };
            let mut claimed = claimed.into_iter().peekable();
            let grouped = std::iter::from_fn(|| {
                claimed.peek()?;
                Some(claimed.by_ref().take(groups).collect::<Vec<_>>())
            });
            let working = futures_util::stream::iter(grouped).for_each_concurrent(
                self.settings.concurrency.max(1),
                |rows| async {
                    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
                    self.requests.give_way().await;
                    if groups == 1 {
                        for row in rows {
                            self.work_on(row).await;
                        }
                    } else {
                        self.work_on_together(rows).await;
                    }
                    if let Ok(mut in_hand) = in_hand.lock() {
                        in_hand.retain(|held| !ids.contains(held));
                    }
                },
            );
            tokio::select! {
                () = working => {}
                () = async {
                    stop.cancelled().await;
                    tokio::time::sleep(FINISH_ON_STOP).await;
                } => {
                    let unfinished = in_hand.lock().map(|ids| ids.clone()).unwrap_or_default();
                    self.give_back(&unfinished).await;
                    return;
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.waker.0.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Leases up to one batch of due rows of this runner's kind.
    async fn claim(&self) -> Result<Vec<Claimed>, DbErr> {
        let now = Utc::now();
        let lease =
            chrono::Duration::seconds(i64::try_from(self.settings.lease_seconds).unwrap_or(60));
        let skip_locked = match self.db.get_database_backend() {
            DbBackend::Postgres => "FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let sql = format!(
            "UPDATE due_work SET lease_until = ? WHERE id IN (\
             SELECT id FROM due_work WHERE kind = ? AND due_at <= ? \
             AND (lease_until IS NULL OR lease_until <= ?) \
             ORDER BY due_at LIMIT ? {skip_locked}) \
             RETURNING id, key, attempts, generation, traceparent"
        );
        let values: Vec<Value> = vec![
            (now + lease).into(),
            self.work.kind().into(),
            now.into(),
            now.into(),
            i64::try_from(self.settings.batch_size).unwrap_or(64).into(),
        ];
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                numbered(backend, &sql),
                values,
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Claimed {
                    id: row.try_get("", "id")?,
                    key: row.try_get("", "key")?,
                    attempts: u32::try_from(row.try_get::<i32>("", "attempts")?).unwrap_or(0),
                    generation: row.try_get("", "generation")?,
                    traceparent: row.try_get("", "traceparent")?,
                })
            })
            .collect()
    }

    /// Clears the lease of rows this runner claimed and will not finish.
    async fn give_back(&self, ids: &[i64]) {
        if ids.is_empty() {
            return;
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let values = ids.iter().map(|id| Value::from(*id)).collect();
        let sql = format!("UPDATE due_work SET lease_until = NULL WHERE id IN ({placeholders})");
        match execute(&self.db, &sql, values).await {
            Ok(_) => tracing::info!(
                kind = self.work.kind(),
                rows = ids.len(),
                "unfinished due work given back"
            ),
            // Their leases lapse instead.
            Err(error) => {
                tracing::warn!(kind = self.work.kind(), %error, "giving back unfinished due work failed")
            }
        }
    }

    /// Does one row's work in a span that continues the trace of the request or event
    /// that owed it, so what the work calls and publishes joins that trace.
    async fn work_on(&self, row: Claimed) {
        let span = self.span_of(&row);
        self.work_on_in_trace(row).instrument(span).await;
    }

    /// A row's span, in the trace of the change that owed it.
    fn span_of(&self, row: &Claimed) -> tracing::Span {
        let span = tracing::info_span!(
            "due_work",
            kind = self.work.kind(),
            key = %row.key,
            attempts = row.attempts,
        );
        crate::telemetry::continue_trace(&span, &row.traceparent);
        span
    }

    /// Does a group of rows' work at once, each row in its own span (see [`Owed`]), and
    /// records their outcomes: the finished ones in one statement.
    async fn work_on_together(&self, rows: Vec<Claimed>) {
        let owed: Vec<Owed> = rows
            .iter()
            .map(|row| Owed {
                key: row.key.clone(),
                failures: row.attempts,
                span: self.span_of(row),
            })
            .collect();
        let mut outcomes = self.work.run_together(&owed).await;
        crate::outbox::committed();
        if outcomes.len() != rows.len() {
            tracing::error!(
                kind = self.work.kind(),
                rows = rows.len(),
                outcomes = outcomes.len(),
                "due work answered for a different number of rows; their leases lapse and they run again"
            );
            return;
        }
        let mut done = Vec::new();
        for (row, outcome) in rows.iter().zip(outcomes.drain(..)) {
            match outcome {
                Outcome::Done => done.push(row),
                outcome => {
                    if let Err(error) = self.record(row, outcome).await {
                        tracing::warn!(kind = self.work.kind(), key = %row.key, %error, "recording due work failed");
                    }
                }
            }
        }
        if let Err(error) = self.finish(&done).await {
            tracing::warn!(kind = self.work.kind(), rows = done.len(), %error, "recording finished due work failed");
        }
    }

    /// Removes finished rows in one statement; a row scheduled again while it ran stays
    /// owed, at the time it was given, and only loses its lease.
    async fn finish(&self, rows: &[&Claimed]) -> Result<(), DbErr> {
        if rows.is_empty() {
            return Ok(());
        }
        let matches = vec!["(id = ? AND generation = ?)"; rows.len()].join(" OR ");
        let values: Vec<Value> = rows
            .iter()
            .flat_map(|row| [Value::from(row.id), Value::from(row.generation)])
            .collect();
        let backend = self.db.get_database_backend();
        let deleted: Vec<i64> = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                numbered(
                    backend,
                    &format!("DELETE FROM due_work WHERE {matches} RETURNING id"),
                ),
                values,
            ))
            .await?
            .iter()
            .map(|row| row.try_get::<i64>("", "id"))
            .collect::<Result<_, _>>()?;
        let owed_again: Vec<Value> = rows
            .iter()
            .filter(|row| !deleted.contains(&row.id))
            .map(|row| Value::from(row.id))
            .collect();
        if !owed_again.is_empty() {
            let placeholders = vec!["?"; owed_again.len()].join(", ");
            execute(
                &self.db,
                &format!("UPDATE due_work SET lease_until = NULL WHERE id IN ({placeholders})"),
                owed_again,
            )
            .await?;
        }
        Ok(())
    }

    async fn work_on_in_trace(&self, row: Claimed) {
        let outcome = self.work.run(&row.key, row.attempts).await;
        // Whatever the work committed may have left events in the outbox.
        crate::outbox::committed();
        if let Err(error) = self.record(&row, outcome).await {
            // The lease lapses and the row is claimed again: the work is redone, which
            // every handler must tolerate anyway (an instance may die after its work).
            tracing::warn!(kind = self.work.kind(), key = %row.key, %error, "recording due work failed");
        }
    }

    async fn record(&self, row: &Claimed, outcome: Outcome) -> Result<(), DbErr> {
        let db = &self.db;
        let finished = match outcome {
            Outcome::Done => {
                execute(
                    db,
                    "DELETE FROM due_work WHERE id = ? AND generation = ?",
                    vec![row.id.into(), row.generation.into()],
                )
                .await?
            }
            Outcome::Again(at) => {
                execute(
                    db,
                    "UPDATE due_work SET due_at = ?, attempts = 0, last_error = NULL, \
                     lease_until = NULL WHERE id = ? AND generation = ?",
                    vec![at.into(), row.id.into(), row.generation.into()],
                )
                .await?
            }
            Outcome::Retry(reason) => {
                let failures = row.attempts.saturating_add(1);
                let delay = self.settings.retry().delay(failures);
                let at = Utc::now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(30));
                tracing::info!(kind = self.work.kind(), key = %row.key, %reason, failures, retry_in = ?delay, "due work failed; retrying later");
                let failures = i32::try_from(failures).unwrap_or(i32::MAX);
                execute(
                    db,
                    "UPDATE due_work SET due_at = ?, attempts = ?, last_error = ?, \
                     lease_until = NULL WHERE id = ?",
                    vec![at.into(), failures.into(), reason.into(), row.id.into()],
                )
                .await?
            }
        };
        if finished == 0 {
            // Scheduled again while it ran: it stays owed, at the time it was given.
            execute(
                db,
                "UPDATE due_work SET lease_until = NULL WHERE id = ?",
                vec![row.id.into()],
            )
            .await?;
        }
        Ok(())
    }
}

async fn execute<C: ConnectionTrait>(db: &C, sql: &str, values: Vec<Value>) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(backend, sql),
            values,
        ))
        .await?;
    Ok(result.rows_affected())
}

/// `?` placeholders as the backend wants them: `$1, $2, …` for PostgreSQL.
pub(crate) fn numbered(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

pub use migration::{CarryTraceContext, Migration};

/// The `due_work` table, in every service's migrations beside the event tables.
mod migration {
    use sea_orm_migration::prelude::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261129_000001_platform_due_work"
        }
    }

    #[derive(DeriveIden)]
    enum DueWorkTable {
        #[sea_orm(iden = "due_work")]
        Table,
        Id,
        Kind,
        Key,
        DueAt,
        Attempts,
        Generation,
        LeaseUntil,
        LastError,
        CreatedAt,
        Traceparent,
    }

    /// Each row keeps the W3C `traceparent` of the change that owed it, so the work joins
    /// that trace.
    pub struct CarryTraceContext;

    impl MigrationName for CarryTraceContext {
        fn name(&self) -> &str {
            "m20261201_000002_platform_due_work_traceparent"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for CarryTraceContext {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .alter_table(
                    Table::alter()
                        .table(DueWorkTable::Table)
                        .add_column(
                            ColumnDef::new(DueWorkTable::Traceparent)
                                .string_len(200)
                                .not_null()
                                .default(""),
                        )
                        .to_owned(),
                )
                .await
        }

        async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .alter_table(
                    Table::alter()
                        .table(DueWorkTable::Table)
                        .drop_column(DueWorkTable::Traceparent)
                        .to_owned(),
                )
                .await
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table(DueWorkTable::Table)
                        .if_not_exists()
                        .col(
                            ColumnDef::new(DueWorkTable::Id)
                                .big_integer()
                                .not_null()
                                .auto_increment()
                                .primary_key(),
                        )
                        .col(
                            ColumnDef::new(DueWorkTable::Kind)
                                .string_len(100)
                                .not_null(),
                        )
                        .col(ColumnDef::new(DueWorkTable::Key).string_len(200).not_null())
                        .col(
                            ColumnDef::new(DueWorkTable::DueAt)
                                .timestamp_with_time_zone()
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(DueWorkTable::Attempts)
                                .integer()
                                .not_null()
                                .default(0),
                        )
                        .col(
                            ColumnDef::new(DueWorkTable::Generation)
                                .big_integer()
                                .not_null()
                                .default(0),
                        )
                        .col(
                            ColumnDef::new(DueWorkTable::LeaseUntil)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .col(ColumnDef::new(DueWorkTable::LastError).text().null())
                        .col(
                            ColumnDef::new(DueWorkTable::CreatedAt)
                                .timestamp_with_time_zone()
                                .not_null(),
                        )
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("idx_due_work_kind_key")
                        .table(DueWorkTable::Table)
                        .col(DueWorkTable::Kind)
                        .col(DueWorkTable::Key)
                        .unique()
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name("idx_due_work_due")
                        .table(DueWorkTable::Table)
                        .col(DueWorkTable::Kind)
                        .col(DueWorkTable::DueAt)
                        .if_not_exists()
                        .to_owned(),
                )
                .await
        }

        async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .drop_table(Table::drop().table(DueWorkTable::Table).to_owned())
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        assert_eq!(
            numbered(DbBackend::Postgres, "a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(numbered(DbBackend::Sqlite, "a = ?"), "a = ?");
    }
}
