//! A partner user enabled again keeps its tokens from before it was disabled void: the
//! moment its tokens are valid from is kept, so every service can be told again after Redis
//! lost what it was told.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PortalUsers {
    Table,
    TokensValidFrom,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PortalUsers::Table)
                    .add_column(
                        ColumnDef::new(PortalUsers::TokensValidFrom)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PortalUsers::Table)
                    .drop_column(PortalUsers::TokensValidFrom)
                    .to_owned(),
            )
            .await
    }
}
