//! Applying one event in one transaction: deduplicate, check the sequence and the fence,
//! run the handler, record what was applied. Either all of it commits or none of it.

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use super::{HandlerError, Handlers, IncomingEvent};
use crate::event_tables::{aggregate_progress, processed_event};

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

    /// Applies `event` holding a lease with fencing token `fence`.
    pub async fn apply(&self, fence: u64, event: &IncomingEvent) -> Result<Applied, ApplyError> {
        let envelope = &event.envelope;
        let event_id = Uuid::parse_str(&envelope.event_id).map_err(|_| ApplyError::BadEventId)?;
        let fence = i64::try_from(fence).unwrap_or(i64::MAX);
        let seq = i64::try_from(envelope.aggregate_seq).unwrap_or(i64::MAX);
        let sequenced = seq > 0 && !event.replay;
        let txn = self.db.begin().await?;

        let seen = processed_event::Entity::find_by_id((self.consumer.clone(), event_id))
            .one(&txn)
            .await?;
        if seen.is_some() {
            txn.commit().await?;
            return Ok(Applied::Duplicate);
        }
        let progress_id = (
            self.consumer.clone(),
            envelope.producer.clone(),
            envelope.aggregate_id.clone(),
        );
        if sequenced {
            let progress = aggregate_progress::Entity::find_by_id(progress_id.clone())
                .one(&txn)
                .await?;
            let (last, stored_fence) = progress.map_or((0, 0), |row| (row.last_seq, row.fence));
            if seq <= last {
                txn.commit().await?;
                return Ok(Applied::Duplicate);
            }
            if seq > last + 1 {
                txn.rollback().await?;
                return Ok(Applied::Early {
                    expected: u64::try_from(last + 1).unwrap_or(0),
                });
            }
            if stored_fence > fence {
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

        let recorded = processed_event::Entity::insert(processed_event::ActiveModel {
            consumer: Set(self.consumer.clone()),
            event_id: Set(event_id),
            processed_at: Set(Utc::now()),
        })
        .exec(&txn)
        .await;
        if let Err(error) = recorded {
            txn.rollback().await?;
            return match error.sql_err() {
                // Someone applied it between our check and now.
                Some(SqlErr::UniqueConstraintViolation(_)) => Ok(Applied::Duplicate),
                _ => Err(error.into()),
            };
        }
        if sequenced && !self.advance(&txn, progress_id, seq, Some(fence)).await? {
            txn.rollback().await?;
            return Err(ApplyError::StaleLease);
        }
        txn.commit().await?;
        Ok(outcome)
    }

    /// Moves the aggregate's progress from `seq - 1` to `seq` (and records `fence`, if
    /// given); false when a concurrent or newer holder moved it first (the version check).
    async fn advance<C: sea_orm::ConnectionTrait>(
        &self,
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

    /// Forgets processed event ids recorded before `cutoff`; returns how many.
    pub async fn forget_before(&self, cutoff: chrono::DateTime<Utc>) -> Result<u64, DbErr> {
        let deleted = processed_event::Entity::delete_many()
            .filter(processed_event::Column::Consumer.eq(self.consumer.clone()))
            .filter(processed_event::Column::ProcessedAt.lt(cutoff))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }

    /// Marks `event`'s sequence slot as passed without applying it (it was dead-lettered),
    /// so its successors are not held forever. A replay applies it later.
    pub async fn skip(&self, event: &IncomingEvent) -> Result<(), DbErr> {
        let envelope = &event.envelope;
        let seq = i64::try_from(envelope.aggregate_seq).unwrap_or(i64::MAX);
        if seq <= 0 || event.replay {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        self.advance(
            &txn,
            (
                self.consumer.clone(),
                envelope.producer.clone(),
                envelope.aggregate_id.clone(),
            ),
            seq,
            None,
        )
        .await?;
        txn.commit().await
    }
}
