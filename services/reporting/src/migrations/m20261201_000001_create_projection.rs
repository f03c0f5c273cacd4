//! The projection's tables. Days are kept as `YYYY-MM-DD` text (UTC), which compares the
//! way dates do on both PostgreSQL and SQLite; durations as milliseconds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ReportProjection {
    Table,
    Name,
    Generation,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportQuotes {
    Table,
    QuoteId,
    IssuedAt,
    IssuedOn,
    PriceMinor,
    Currency,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportOrders {
    Table,
    OrderId,
    QuoteId,
    PlacedAt,
    PlacedOn,
    Status,
    StatusSince,
    Currency,
    QuotedMinor,
    FinalMinor,
    PaidMinor,
    PaidAt,
    PaidOn,
    MillisToPayout,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportOrderStates {
    Table,
    OrderId,
    Status,
    EnteredAt,
    LeftAt,
    LeftOn,
    Millis,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportJobs {
    Table,
    JobId,
    OrderId,
    Kind,
    PartnerId,
    DueBy,
    DueOn,
    PickedUpAt,
    OnTime,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportOffers {
    Table,
    JobId,
    PartnerId,
    OrderId,
    OfferedAt,
    OfferedOn,
    Answer,
    AnsweredAt,
}

fn ts<T: IntoIden>(column: T) -> ColumnDef {
    ColumnDef::new(column).timestamp_with_time_zone().to_owned()
}

fn day<T: IntoIden>(column: T) -> ColumnDef {
    ColumnDef::new(column).string_len(10).to_owned()
}

async fn index<T: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[T],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for column in columns {
        index.col(*column);
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReportProjection::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ReportProjection::Name)
                            .string_len(40)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ReportProjection::Generation)
                            .uuid()
                            .not_null(),
                    )
                    .col(ts(ReportProjection::CreatedAt).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportQuotes::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ReportQuotes::QuoteId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ts(ReportQuotes::IssuedAt).not_null())
                    .col(day(ReportQuotes::IssuedOn).not_null())
                    .col(
                        ColumnDef::new(ReportQuotes::PriceMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(ReportQuotes::Currency).string_len(3).null())
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_report_quotes_issued_on",
            ReportQuotes::Table,
            &[ReportQuotes::IssuedOn],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportOrders::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ReportOrders::OrderId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ReportOrders::QuoteId).uuid().null())
                    .col(ts(ReportOrders::PlacedAt).null())
                    .col(day(ReportOrders::PlacedOn).null())
                    .col(
                        ColumnDef::new(ReportOrders::Status)
                            .string_len(30)
                            .not_null(),
                    )
                    .col(ts(ReportOrders::StatusSince).not_null())
                    .col(ColumnDef::new(ReportOrders::Currency).string_len(3).null())
                    .col(
                        ColumnDef::new(ReportOrders::QuotedMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ReportOrders::FinalMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(ReportOrders::PaidMinor).big_integer().null())
                    .col(ts(ReportOrders::PaidAt).null())
                    .col(day(ReportOrders::PaidOn).null())
                    .col(
                        ColumnDef::new(ReportOrders::MillisToPayout)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_report_orders_placed_on",
            ReportOrders::Table,
            &[ReportOrders::PlacedOn],
        )
        .await?;
        index(
            manager,
            "idx_report_orders_quote",
            ReportOrders::Table,
            &[ReportOrders::QuoteId],
        )
        .await?;
        index(
            manager,
            "idx_report_orders_paid_on",
            ReportOrders::Table,
            &[ReportOrders::PaidOn],
        )
        .await?;
        index(
            manager,
            "idx_report_orders_status_since",
            ReportOrders::Table,
            &[ReportOrders::Status, ReportOrders::StatusSince],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportOrderStates::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ReportOrderStates::OrderId).uuid().not_null())
                    .col(
                        ColumnDef::new(ReportOrderStates::Status)
                            .string_len(30)
                            .not_null(),
                    )
                    .col(ts(ReportOrderStates::EnteredAt).not_null())
                    .col(ts(ReportOrderStates::LeftAt).not_null())
                    .col(day(ReportOrderStates::LeftOn).not_null())
                    .col(
                        ColumnDef::new(ReportOrderStates::Millis)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ReportOrderStates::OrderId)
                            .col(ReportOrderStates::Status)
                            .col(ReportOrderStates::EnteredAt),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_report_order_states_left_on",
            ReportOrderStates::Table,
            &[ReportOrderStates::LeftOn],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportJobs::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ReportJobs::JobId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ReportJobs::OrderId).uuid().not_null())
                    .col(ColumnDef::new(ReportJobs::Kind).string_len(20).null())
                    .col(ColumnDef::new(ReportJobs::PartnerId).uuid().null())
                    .col(ts(ReportJobs::DueBy).null())
                    .col(day(ReportJobs::DueOn).null())
                    .col(ts(ReportJobs::PickedUpAt).null())
                    .col(ColumnDef::new(ReportJobs::OnTime).boolean().null())
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_report_jobs_due_on",
            ReportJobs::Table,
            &[ReportJobs::DueOn],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportOffers::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ReportOffers::JobId).uuid().not_null())
                    .col(ColumnDef::new(ReportOffers::PartnerId).uuid().not_null())
                    .col(ColumnDef::new(ReportOffers::OrderId).uuid().not_null())
                    .col(ts(ReportOffers::OfferedAt).null())
                    .col(day(ReportOffers::OfferedOn).null())
                    .col(ColumnDef::new(ReportOffers::Answer).string_len(20).null())
                    .col(ts(ReportOffers::AnsweredAt).null())
                    .primary_key(
                        Index::create()
                            .col(ReportOffers::JobId)
                            .col(ReportOffers::PartnerId),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_report_offers_offered_on",
            ReportOffers::Table,
            &[ReportOffers::OfferedOn],
        )
        .await
    }
}
