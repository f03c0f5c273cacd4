//! Schema history of the order database. Migrations only ever get appended: a deployed
//! migration is never edited, because some database somewhere already ran it.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_orders;
mod m20261129_000001_owe_due_work;
mod m20261130_000001_drop_orders_due_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(platform::event_tables::Migration),
            Box::new(m20261122_000001_create_orders::Migration),
            Box::new(platform::due_work::Migration),
            Box::new(m20261129_000001_owe_due_work::Migration),
            Box::new(m20261130_000001_drop_orders_due_index::Migration),
            Box::new(platform::event_tables::ParkOutboxRows),
            Box::new(platform::event_tables::HoldEarlyEvents),
            Box::new(platform::due_work::CarryTraceContext),
        ]
    }
}
