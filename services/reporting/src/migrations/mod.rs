//! Schema history of the reporting database. Migrations only ever get appended.

use sea_orm_migration::prelude::*;

mod m20261201_000001_create_projection;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(platform::event_tables::Migration),
            Box::new(platform::event_tables::ParkOutboxRows),
            Box::new(platform::event_tables::HoldEarlyEvents),
            Box::new(m20261201_000001_create_projection::Migration),
        ]
    }
}
