use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    ShopperId,
    QuoteId,
    Status,
    Version,
    Pickup,
    Pincode,
    Payout,
    VariantId,
    QuotedPriceMinor,
    FinalPriceMinor,
    Currency,
    PartnerId,
    Reason,
    PayoutReference,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    UpdatedAt,
    StatusChangedAt,
}

#[derive(DeriveIden)]
enum OrderTimeline {
    Table,
    OrderId,
    Seq,
    Status,
    Event,
    Detail,
    At,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    ShopperId,
    Key,
    RequestHash,
    OrderId,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payouts {
    Table,
    OrderId,
    Reference,
    AmountMinor,
    Currency,
    Method,
    ProviderReference,
    PaidAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Orders::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Orders::ShopperId).string_len(200).not_null())
                    .col(ColumnDef::new(Orders::QuoteId).uuid().not_null())
                    .col(ColumnDef::new(Orders::Status).string_len(40).not_null())
                    .col(ColumnDef::new(Orders::Version).big_integer().not_null())
                    .col(ColumnDef::new(Orders::Pickup).json_binary().not_null())
                    .col(ColumnDef::new(Orders::Pincode).string_len(6).not_null())
                    .col(ColumnDef::new(Orders::Payout).json_binary().not_null())
                    .col(ColumnDef::new(Orders::VariantId).uuid().null())
                    .col(
                        ColumnDef::new(Orders::QuotedPriceMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Orders::FinalPriceMinor).big_integer().null())
                    .col(ColumnDef::new(Orders::Currency).string_len(3).null())
                    .col(ColumnDef::new(Orders::PartnerId).uuid().null())
                    .col(ColumnDef::new(Orders::Reason).string_len(500).null())
                    .col(
                        ColumnDef::new(Orders::PayoutReference)
                            .string_len(100)
                            .null(),
                    )
                    .col(ColumnDef::new(Orders::Attempts).integer().not_null())
                    .col(
                        ColumnDef::new(Orders::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Orders::LastError).string_len(500).null())
                    .col(
                        ColumnDef::new(Orders::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Orders::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Orders::StatusChangedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_orders_shopper",
                vec![Orders::ShopperId, Orders::CreatedAt],
            ),
            (
                "idx_orders_status",
                vec![Orders::Status, Orders::StatusChangedAt],
            ),
            ("idx_orders_due", vec![Orders::NextAttemptAt]),
            ("idx_orders_pincode", vec![Orders::Pincode]),
            ("idx_orders_created", vec![Orders::CreatedAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Orders::Table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OrderTimeline::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(OrderTimeline::OrderId).uuid().not_null())
                    .col(ColumnDef::new(OrderTimeline::Seq).big_integer().not_null())
                    .col(
                        ColumnDef::new(OrderTimeline::Status)
                            .string_len(40)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrderTimeline::Event)
                            .string_len(60)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrderTimeline::Detail)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrderTimeline::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(OrderTimeline::OrderId)
                            .col(OrderTimeline::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(IdempotencyKeys::ShopperId)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::Key)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::RequestHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(IdempotencyKeys::OrderId).uuid().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Response).text().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::ShopperId)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_created")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Payouts::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Payouts::OrderId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Payouts::Reference)
                            .string_len(100)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Payouts::AmountMinor)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Payouts::Currency).string_len(3).not_null())
                    .col(ColumnDef::new(Payouts::Method).string_len(20).not_null())
                    .col(
                        ColumnDef::new(Payouts::ProviderReference)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Payouts::PaidAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Payouts::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            OrderTimeline::Table.into_iden(),
            Orders::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
