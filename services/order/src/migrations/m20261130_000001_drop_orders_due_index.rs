//! `orders.next_attempt_at` was indexed for the processor to find waiting orders; it works
//! off `due_work` now (m20261129), and nothing searches by the column. The index only cost
//! every order placed and every step one more write.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000001_drop_orders_due_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_orders_due")
                    .table(Alias::new("orders"))
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_orders_due")
                    .table(Alias::new("orders"))
                    .col(Alias::new("next_attempt_at"))
                    .to_owned(),
            )
            .await
    }
}
