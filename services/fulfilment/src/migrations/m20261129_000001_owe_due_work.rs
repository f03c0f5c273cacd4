//! Inspected jobs waiting for re-pricing were found by `jobs.requote_due_at`; re-pricing
//! now works off `due_work` rows. Owes one for every job already waiting.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use sea_orm_migration::prelude::*;
use uuid::Uuid;

use crate::domain::JobStatus;
use crate::store::REQUOTE;
use crate::store::entities::jobs;

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
        let waiting: Vec<(Uuid, Option<DateTime<Utc>>)> = jobs::Entity::find()
            .select_only()
            .column(jobs::Column::Id)
            .column(jobs::Column::RequoteDueAt)
            .filter(jobs::Column::Status.eq(JobStatus::InspectionReported.as_str()))
            .filter(jobs::Column::RequoteDueAt.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        platform::due_work::schedule_each(db, REQUOTE, waiting).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
