//! Schema history of the fulfilment database. Migrations only ever get appended.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_fulfilment;
mod m20261122_000002_versions_and_quoted_price;
mod m20261129_000001_owe_due_work;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(platform::event_tables::Migration),
            Box::new(m20261122_000001_create_fulfilment::Migration),
            Box::new(m20261122_000002_versions_and_quoted_price::Migration),
            Box::new(platform::due_work::Migration),
            Box::new(m20261129_000001_owe_due_work::Migration),
            Box::new(platform::event_tables::ParkOutboxRows),
            Box::new(platform::event_tables::HoldEarlyEvents),
            Box::new(platform::due_work::CarryTraceContext),
        ]
    }
}
