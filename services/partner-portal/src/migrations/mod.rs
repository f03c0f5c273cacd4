//! Schema history of the portal database. Migrations only ever get appended.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_portal;
mod m20261122_000002_job_version;
mod m20261129_000001_owe_due_work;
mod m20261130_000001_user_tokens_valid_from;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(platform::event_tables::Migration),
            Box::new(m20261122_000001_create_portal::Migration),
            Box::new(m20261122_000002_job_version::Migration),
            Box::new(platform::due_work::Migration),
            Box::new(m20261129_000001_owe_due_work::Migration),
            Box::new(platform::event_tables::ParkOutboxRows),
            Box::new(platform::event_tables::HoldEarlyEvents),
            Box::new(m20261130_000001_user_tokens_valid_from::Migration),
            Box::new(platform::due_work::CarryTraceContext),
        ]
    }
}
