//! Pending webhook deliveries were found by `webhook_deliveries.next_attempt_at`; the
//! deliverer now works off `due_work` rows. Owes one for every delivery already waiting.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use sea_orm_migration::prelude::*;
use uuid::Uuid;

use crate::domain::DeliveryStatus;
use crate::store::DELIVER;
use crate::store::entities::webhook_deliveries;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000001_owe_due_work"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let waiting: Vec<(Uuid, Option<DateTime<Utc>>)> = webhook_deliveries::Entity::find()
            .select_only()
            .column(webhook_deliveries::Column::Id)
            .column(webhook_deliveries::Column::NextAttemptAt)
            .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_deliveries::Column::NextAttemptAt.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        platform::due_work::schedule_each(db, DELIVER, waiting).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
