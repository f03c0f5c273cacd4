//! Applying one event in one transaction: deduplicate, check the sequence and the fence,
//! run the handler, record what was applied. Either all of it commits or none of it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Set, Statement, TransactionTrait,
};
use uuid::Uuid;

use super::{HandlerError, Handlers, IncomingEvent};
use crate::due_work::numbered;
use crate::event_tables::{aggregate_progress, held_event, processed_event};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The handler ran and its effect committed.
    Applied,
    /// Already applied earlier (redelivery, replay of a handled event): no effect.
    Duplicate,
    /// A predecessor is missing: `expected` must be applied first.
    Early { expected: u64 },
    /// No handler for this type; recorded so it is not looked at again.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Handler(#[from] HandlerError),
    /// A newer lease applied something for this aggregate: this holder is stale.
    #[error("refused: a newer lease holder has written this aggregate")]
    StaleLease,
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("the envelope has no valid event id")]
    BadEventId,
}

#[derive(Clone)]
pub struct Applier {
    db: DatabaseConnection,
    consumer: String,
    handlers: Handlers,
}

impl Applier {
    pub fn new(db: DatabaseConnection, consumer: &str, handlers: Handlers) -> Self {
        Self {
            db,
            consumer: consumer.to_owned(),
            handlers,
        }
    }

    /// The last `aggregate_seq` applied for (producer, aggregate), 0 if none.
    pub async fn last_applied(&self, producer: &str, aggregate_id: &str) -> Result<u64, DbErr> {
        let row = aggregate_progress::Entity::find_by_id((
            self.consumer.clone(),
            producer.to_owned(),
            aggregate_id.to_owned(),
        ))
        .one(&self.db)
        .await?;
        Ok(row.map_or(0, |row| u64::try_from(row.last_seq).unwrap_or(0)))
    }

    /// True when `event` has no handler here and takes its place in its key's sequence:
    /// applying it only moves the key's progress, which [`Applier::pass_ignored`] does in
    /// one statement and without a lease.
    pub fn ignores(&self, event: &IncomingEvent) -> bool {
        event.envelope.aggregate_seq > 0
            && !event.replay
            && self.handlers.get(&event.envelope.event_type).is_none()
    }

    /// Moves the key's progress past an event this consumer [`ignores`](Applier::ignores),
    /// if it is the next in sequence: one conditional statement, no transaction. The
    /// condition is the whole guarantee (of two writers only one moves `seq - 1` to `seq`),
    /// so no lease is needed: the event changes nothing else. False when it is not the
    /// next (a duplicate, an early event, a newer writer): the caller applies it in full,
    /// which tells those apart.
    pub async fn pass_ignored(&self, event: &IncomingEvent) -> Result<bool, DbErr> {
        let envelope = &event.envelope;
        let seq = i64::try_from(envelope.aggregate_seq).unwrap_or(i64::MAX);
        let progress_id = (
            self.consumer.clone(),
            envelope.producer.clone(),
            envelope.aggregate_id.clone(),
        );
        advance(&self.db, progress_id, seq, None).await
    }

    /// Applies `event` holding a lease with fencing token `fence`.
    pub async fn apply(&self, fence: u64, event: &IncomingEvent) -> Result<Applied, ApplyError> {
        let envelope = &event.envelope;
        let event_id = Uuid::parse_str(&envelope.event_id).map_err(|_| ApplyError::BadEventId)?;
        let fence = i64::try_from(fence).unwrap_or(i64::MAX);
        let seq = i64::try_from(envelope.aggregate_seq).unwrap_or(i64::MAX);
        let mut sequenced = seq > 0;
        let txn = self.db.begin().await?;

        let progress_id = (
            self.consumer.clone(),
            envelope.producer.clone(),
            envelope.aggregate_id.clone(),
        );
        let known = Known::read(&txn, &progress_id, event_id).await?;
        if known.seen {
            txn.commit().await?;
            return Ok(Applied::Duplicate);
        }
        if sequenced {
            let (last, stored_fence) = (known.last_seq, known.fence);
            // A replay whose slot is still open (its key's later events held behind it)
            // takes its place in the sequence; one whose slot has passed (an admin driving
            // a handled event again) is applied out of sequence.
            if event.replay && last != seq - 1 {
                sequenced = false;
            } else if seq <= last {
                txn.commit().await?;
                return Ok(Applied::Duplicate);
            } else if seq > last + 1 {
                txn.rollback().await?;
                return Ok(Applied::Early {
                    expected: u64::try_from(last + 1).unwrap_or(0),
                });
            } else if stored_fence > fence {
                txn.rollback().await?;
                return Err(ApplyError::StaleLease);
            }
        }

        let outcome = match self.handlers.get(&envelope.event_type) {
            Some(handler) => {
                handler.handle(&txn, event).await?;
                Applied::Applied
            }
            None => Applied::Ignored,
        };

        let progress = sequenced.then_some((progress_id, seq, fence));
        let (recorded, advanced) = record(&txn, &self.consumer, event_id, progress).await?;
        if !recorded {
            // Someone applied it between our check and now.
            txn.rollback().await?;
            return Ok(Applied::Duplicate);
        }
        if !advanced {
            txn.rollback().await?;
            return Err(ApplyError::StaleLease);
        }
        txn.commit().await?;
        Ok(outcome)
    }

    /// Forgets processed event ids recorded before `cutoff`; returns how many.
    pub async fn forget_before(&self, cutoff: chrono::DateTime<Utc>) -> Result<u64, DbErr> {
        let deleted = processed_event::Entity::delete_many()
            .filter(processed_event::Column::Consumer.eq(self.consumer.clone()))
            .filter(processed_event::Column::ProcessedAt.lt(cutoff))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }

    /// Keeps `event` (which came before its predecessor) until its slot comes; holding
    /// it again changes nothing.
    pub async fn hold(&self, event: &IncomingEvent, payload: &[u8]) -> Result<(), DbErr> {
        let envelope = &event.envelope;
        let now = Utc::now();
        held_event::Entity::insert(held_event::ActiveModel {
            consumer: Set(self.consumer.clone()),
            producer: Set(envelope.producer.clone()),
            aggregate_id: Set(envelope.aggregate_id.clone()),
            seq: Set(i64::try_from(envelope.aggregate_seq).unwrap_or(i64::MAX)),
            topic: Set(event.topic.clone()),
            payload: Set(payload.to_vec()),
            held_at: Set(now),
            retry_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                held_event::Column::Consumer,
                held_event::Column::Producer,
                held_event::Column::AggregateId,
                held_event::Column::Seq,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map(drop)
    }

    /// The held event in slot `seq` of (producer, aggregate), if there is one, taken for
    /// `lease`: the background round does not hand it out again meanwhile.
    pub async fn take_held(
        &self,
        producer: &str,
        aggregate_id: &str,
        seq: u64,
        lease: chrono::Duration,
    ) -> Result<Option<held_event::Model>, DbErr> {
        let id = (
            self.consumer.clone(),
            producer.to_owned(),
            aggregate_id.to_owned(),
            i64::try_from(seq).unwrap_or(i64::MAX),
        );
        let Some(held) = held_event::Entity::find_by_id(id.clone())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        held_event::Entity::update_many()
            .col_expr(held_event::Column::RetryAt, Expr::value(Utc::now() + lease))
            .filter(held_event::Column::Consumer.eq(id.0))
            .filter(held_event::Column::Producer.eq(id.1))
            .filter(held_event::Column::AggregateId.eq(id.2))
            .filter(held_event::Column::Seq.eq(id.3))
            .exec(&self.db)
            .await?;
        Ok(Some(held))
    }

    /// Forgets held events of (producer, aggregate) up to slot `seq`: applied, or found
    /// already applied.
    pub async fn release_held(
        &self,
        producer: &str,
        aggregate_id: &str,
        seq: u64,
    ) -> Result<(), DbErr> {
        held_event::Entity::delete_many()
            .filter(held_event::Column::Consumer.eq(self.consumer.clone()))
            .filter(held_event::Column::Producer.eq(producer))
            .filter(held_event::Column::AggregateId.eq(aggregate_id))
            .filter(held_event::Column::Seq.lte(i64::try_from(seq).unwrap_or(i64::MAX)))
            .exec(&self.db)
            .await
            .map(drop)
    }

    /// Whether any event is held for this consumer, by any instance.
    pub async fn holds_any(&self) -> Result<bool, DbErr> {
        let held: Option<i64> = held_event::Entity::find()
            .select_only()
            .column(held_event::Column::Seq)
            .filter(held_event::Column::Consumer.eq(self.consumer.clone()))
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(held.is_some())
    }

    /// Up to `limit` held events whose slot has come (or passed), each not handed out again
    /// for `lease`: whichever instance runs this finds them, after a restart too.
    pub async fn due_held(
        &self,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<held_event::Model>, DbErr> {
        let backend = self.db.get_database_backend();
        let now = Utc::now();
        let sql = "SELECT h.consumer, h.producer, h.aggregate_id, h.seq, h.topic, h.payload, \
                   h.held_at, h.retry_at FROM held_events h LEFT JOIN aggregate_progress p \
                   ON p.consumer = h.consumer AND p.producer = h.producer \
                   AND p.aggregate_id = h.aggregate_id \
                   WHERE h.consumer = ? AND h.retry_at <= ? \
                   AND h.seq <= COALESCE(p.last_seq, 0) + 1 ORDER BY h.seq LIMIT ?";
        let due = held_event::Model::find_by_statement(Statement::from_sql_and_values(
            backend,
            numbered(backend, sql),
            [
                self.consumer.clone().into(),
                now.into(),
                i64::try_from(limit).unwrap_or(100).into(),
            ],
        ))
        .all(&self.db)
        .await?;
        for row in &due {
            held_event::Entity::update_many()
                .col_expr(held_event::Column::RetryAt, Expr::value(now + lease))
                .filter(held_event::Column::Consumer.eq(row.consumer.clone()))
                .filter(held_event::Column::Producer.eq(row.producer.clone()))
                .filter(held_event::Column::AggregateId.eq(row.aggregate_id.clone()))
                .filter(held_event::Column::Seq.eq(row.seq))
                .exec(&self.db)
                .await?;
        }
        Ok(due)
    }

    /// Keys whose held events have waited since before `cutoff` for a predecessor that has
    /// not come: one [`Gap`] per (producer, aggregate).
    pub async fn gaps(&self, cutoff: DateTime<Utc>) -> Result<Vec<Gap>, DbErr> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT h.producer, h.aggregate_id, MIN(h.topic) AS topic, \
                   COALESCE(MAX(p.last_seq), 0) + 1 AS expected, COUNT(*) AS held \
                   FROM held_events h LEFT JOIN aggregate_progress p \
                   ON p.consumer = h.consumer AND p.producer = h.producer \
                   AND p.aggregate_id = h.aggregate_id \
                   WHERE h.consumer = ? GROUP BY h.producer, h.aggregate_id \
                   HAVING MIN(h.seq) > COALESCE(MAX(p.last_seq), 0) + 1 AND MIN(h.held_at) < ?";
        Gap::find_by_statement(Statement::from_sql_and_values(
            backend,
            numbered(backend, sql),
            [self.consumer.clone().into(), cutoff.into()],
        ))
        .all(&self.db)
        .await
    }
}

/// A key held behind a predecessor that never came.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Gap {
    pub producer: String,
    pub aggregate_id: String,
    pub topic: String,
    /// The slot the key waits for.
    pub expected: i64,
    /// Events held behind it.
    pub held: i64,
}

/// What passing a slot by hand did (see [`pass_slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotPassed {
    /// The key's progress moved past it; its held events follow.
    Passed,
    /// It had passed already (the event came, or someone else passed it).
    AlreadyPassed,
    /// An earlier slot is still open: pass or fill that one first.
    EarlierOpen { expected: u64 },
}

/// Moves `consumer`'s progress on (producer, aggregate) past slot `seq` without applying
/// anything: an admin gives up on a dead-lettered event, or on one that never came.
pub async fn pass_slot(
    db: &DatabaseConnection,
    consumer: &str,
    producer: &str,
    aggregate_id: &str,
    seq: u64,
) -> Result<SlotPassed, DbErr> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let progress_id = (
        consumer.to_owned(),
        producer.to_owned(),
        aggregate_id.to_owned(),
    );
    let txn = db.begin().await?;
    if advance(&txn, progress_id.clone(), seq, None).await? {
        txn.commit().await?;
        return Ok(SlotPassed::Passed);
    }
    txn.rollback().await?;
    let last = aggregate_progress::Entity::find_by_id(progress_id)
        .one(db)
        .await?
        .map_or(0, |row| row.last_seq);
    Ok(if last >= seq {
        SlotPassed::AlreadyPassed
    } else {
        SlotPassed::EarlierOpen {
            expected: u64::try_from(last + 1).unwrap_or(0),
        }
    })
}

/// What the database knows of an event before it is applied: whether this consumer
/// applied it, and where its key's sequence stands. One round trip.
#[derive(Debug, FromQueryResult)]
struct Known {
    seen: bool,
    last_seq: i64,
    fence: i64,
}

impl Known {
    async fn read<C: sea_orm::ConnectionTrait>(
        txn: &C,
        (consumer, producer, aggregate_id): &(String, String, String),
        event_id: Uuid,
    ) -> Result<Self, DbErr> {
        let backend = txn.get_database_backend();
        let sql = "SELECT EXISTS (SELECT 1 FROM processed_events WHERE consumer = ? AND event_id = ?) AS seen, \
                   COALESCE((SELECT last_seq FROM aggregate_progress WHERE consumer = ? AND producer = ? AND aggregate_id = ?), 0) AS last_seq, \
                   COALESCE((SELECT fence FROM aggregate_progress WHERE consumer = ? AND producer = ? AND aggregate_id = ?), 0) AS fence";
        let progress = || -> [sea_orm::Value; 3] {
            [
                consumer.clone().into(),
                producer.clone().into(),
                aggregate_id.clone().into(),
            ]
        };
        let mut values: Vec<sea_orm::Value> = vec![consumer.clone().into(), event_id.into()];
        values.extend(progress());
        values.extend(progress());
        Self::find_by_statement(Statement::from_sql_and_values(
            backend,
            numbered(backend, sql),
            values,
        ))
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the event's standing".to_owned()))
    }
}

/// Records `event_id` as applied and, for a sequenced event, moves its key's progress to
/// `seq` under `fence`: `(recorded, advanced)`, false where it was applied or moved by
/// someone else first. One statement on PostgreSQL; two on SQLite, whose statements
/// cannot write in a `WITH`.
async fn record<C: sea_orm::ConnectionTrait>(
    txn: &C,
    consumer: &str,
    event_id: Uuid,
    progress: Option<((String, String, String), i64, i64)>,
) -> Result<(bool, bool), DbErr> {
    let backend = txn.get_database_backend();
    if backend != DbBackend::Postgres {
        let recorded = processed_event::Entity::insert(processed_event::ActiveModel {
            consumer: Set(consumer.to_owned()),
            event_id: Set(event_id),
            processed_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([
                processed_event::Column::Consumer,
                processed_event::Column::EventId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        if recorded != 1 {
            return Ok((false, false));
        }
        let advanced = match progress {
            Some((id, seq, fence)) => advance(txn, id, seq, Some(fence)).await?,
            None => true,
        };
        return Ok((true, advanced));
    }
    let now = Utc::now();
    let mut values: Vec<sea_orm::Value> = vec![consumer.into(), event_id.into(), now.into()];
    let advance_sql = match progress {
        None => "SELECT 1".to_owned(),
        Some(((consumer, producer, aggregate_id), 1, fence)) => {
            values.extend([
                consumer.into(),
                producer.into(),
                aggregate_id.into(),
                fence.into(),
                now.into(),
            ]);
            "INSERT INTO aggregate_progress (consumer, producer, aggregate_id, last_seq, fence, updated_at) \
             VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING RETURNING 1"
                .to_owned()
        }
        Some(((consumer, producer, aggregate_id), seq, fence)) => {
            values.extend([
                seq.into(),
                fence.into(),
                now.into(),
                consumer.into(),
                producer.into(),
                aggregate_id.into(),
                (seq - 1).into(),
                fence.into(),
            ]);
            "UPDATE aggregate_progress SET last_seq = ?, fence = ?, updated_at = ? \
             WHERE consumer = ? AND producer = ? AND aggregate_id = ? AND last_seq = ? AND fence <= ? \
             RETURNING 1"
                .to_owned()
        }
    };
    let sql = format!(
        "WITH recorded AS (INSERT INTO processed_events (consumer, event_id, processed_at) \
         VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1), advanced AS ({advance_sql}) \
         SELECT (SELECT COUNT(*) FROM recorded) AS recorded, (SELECT COUNT(*) FROM advanced) AS advanced"
    );
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(backend, &sql),
            values,
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the recorded event".to_owned()))?;
    let recorded: i64 = row.try_get("", "recorded")?;
    let advanced: i64 = row.try_get("", "advanced")?;
    Ok((recorded == 1, advanced == 1))
}

/// Moves the aggregate's progress from `seq - 1` to `seq` (and records `fence`, if
/// given); false when a concurrent or newer holder moved it first (the version check).
async fn advance<C: sea_orm::ConnectionTrait>(
    txn: &C,
    (consumer, producer, aggregate_id): (String, String, String),
    seq: i64,
    fence: Option<i64>,
) -> Result<bool, DbErr> {
    if seq == 1 {
        let inserted = aggregate_progress::Entity::insert(aggregate_progress::ActiveModel {
            consumer: Set(consumer),
            producer: Set(producer),
            aggregate_id: Set(aggregate_id),
            last_seq: Set(seq),
            fence: Set(fence.unwrap_or(0)),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([
                aggregate_progress::Column::Consumer,
                aggregate_progress::Column::Producer,
                aggregate_progress::Column::AggregateId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        return Ok(inserted == 1);
    }
    let mut update = aggregate_progress::Entity::update_many()
        .col_expr(aggregate_progress::Column::LastSeq, Expr::value(seq))
        .col_expr(
            aggregate_progress::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(aggregate_progress::Column::Consumer.eq(consumer))
        .filter(aggregate_progress::Column::Producer.eq(producer))
        .filter(aggregate_progress::Column::AggregateId.eq(aggregate_id))
        .filter(aggregate_progress::Column::LastSeq.eq(seq - 1));
    if let Some(fence) = fence {
        update = update
            .col_expr(aggregate_progress::Column::Fence, Expr::value(fence))
            .filter(aggregate_progress::Column::Fence.lte(fence));
    }
    let updated = update.exec(txn).await?;
    Ok(updated.rows_affected == 1)
}
