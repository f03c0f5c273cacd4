use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Partners {
    Table,
    Id,
    Name,
    Kind,
    Pincodes,
    DailyCapacity,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TradeIns {
    Table,
    OrderId,
    QuoteId,
    VariantId,
    Pincode,
    Address,
    SlotDate,
    SlotWindow,
    Seq,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    OrderId,
    Kind,
    Status,
    PartnerId,
    Day,
    Pincode,
    Address,
    SlotDate,
    SlotWindow,
    OfferedAt,
    Excluded,
    Answers,
    Notes,
    RequoteDueAt,
    RequoteAttempts,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JobHistory {
    Table,
    Id,
    JobId,
    Status,
    PartnerId,
    Reason,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Partners::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Partners::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Partners::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Partners::Kind).string_len(20).not_null())
                    .col(ColumnDef::new(Partners::Pincodes).text().not_null())
                    .col(
                        ColumnDef::new(Partners::DailyCapacity)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Partners::Active).boolean().not_null())
                    .col(
                        ColumnDef::new(Partners::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Partners::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TradeIns::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(TradeIns::OrderId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TradeIns::QuoteId).uuid().not_null())
                    .col(ColumnDef::new(TradeIns::VariantId).uuid().not_null())
                    .col(ColumnDef::new(TradeIns::Pincode).string_len(6).not_null())
                    .col(ColumnDef::new(TradeIns::Address).text().not_null())
                    .col(ColumnDef::new(TradeIns::SlotDate).string_len(10).not_null())
                    .col(
                        ColumnDef::new(TradeIns::SlotWindow)
                            .string_len(20)
                            .not_null(),
                    )
                    .col(ColumnDef::new(TradeIns::Seq).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Jobs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Jobs::OrderId).uuid().not_null())
                    .col(ColumnDef::new(Jobs::Kind).string_len(20).not_null())
                    .col(ColumnDef::new(Jobs::Status).string_len(30).not_null())
                    .col(ColumnDef::new(Jobs::PartnerId).uuid().null())
                    .col(ColumnDef::new(Jobs::Day).string_len(10).not_null())
                    .col(ColumnDef::new(Jobs::Pincode).string_len(6).not_null())
                    .col(ColumnDef::new(Jobs::Address).text().not_null())
                    .col(ColumnDef::new(Jobs::SlotDate).string_len(10).not_null())
                    .col(ColumnDef::new(Jobs::SlotWindow).string_len(20).not_null())
                    .col(
                        ColumnDef::new(Jobs::OfferedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Jobs::Excluded).text().not_null())
                    .col(ColumnDef::new(Jobs::Answers).json_binary().null())
                    .col(ColumnDef::new(Jobs::Notes).text().null())
                    .col(
                        ColumnDef::new(Jobs::RequoteDueAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Jobs::RequoteAttempts).integer().not_null())
                    .col(ColumnDef::new(Jobs::LastError).text().null())
                    .col(
                        ColumnDef::new(Jobs::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Jobs::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("idx_jobs_order", vec![Jobs::OrderId]),
            ("idx_jobs_status", vec![Jobs::Status]),
            ("idx_jobs_partner_day", vec![Jobs::PartnerId, Jobs::Day]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Jobs::Table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(JobHistory::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(JobHistory::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(JobHistory::JobId).uuid().not_null())
                    .col(ColumnDef::new(JobHistory::Status).string_len(30).not_null())
                    .col(ColumnDef::new(JobHistory::PartnerId).uuid().null())
                    .col(ColumnDef::new(JobHistory::Reason).text().null())
                    .col(
                        ColumnDef::new(JobHistory::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_history_job")
                    .table(JobHistory::Table)
                    .col(JobHistory::JobId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["job_history", "jobs", "trade_ins", "partners"] {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
