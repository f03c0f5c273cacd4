//! The job read model gets a version: every write checks the version it read, so a writer
//! whose per-order lease expired cannot overwrite a newer state.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PortalJobs {
    Table,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PortalJobs::Table)
                    .add_column(
                        ColumnDef::new(PortalJobs::Version)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PortalJobs::Table)
                    .drop_column(PortalJobs::Version)
                    .to_owned(),
            )
            .await
    }
}
