//! Orders waiting for the processor were found by `orders.next_attempt_at`; the processor
//! now works off `due_work` rows. Owes one for every order already waiting.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use sea_orm_migration::prelude::*;
use uuid::Uuid;

use crate::store::ADVANCE;
use crate::store::entities::orders;

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
        let waiting: Vec<(Uuid, Option<DateTime<Utc>>)> = orders::Entity::find()
            .select_only()
            .column(orders::Column::Id)
            .column(orders::Column::NextAttemptAt)
            .filter(orders::Column::NextAttemptAt.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        platform::due_work::schedule_each(db, ADVANCE, waiting).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
