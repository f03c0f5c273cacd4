//! Jobs get a version (every state write is a compare-and-set on it) and a flag for a
//! re-pricing quote refused; the trade-in keeps the price the shopper was quoted.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TradeIns {
    QuotedAmountMinor,
    QuotedCurrency,
}

#[derive(DeriveIden)]
enum Jobs {
    Version,
    RequoteFailed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        let columns = [
            (
                Alias::new("trade_ins"),
                ColumnDef::new(TradeIns::QuotedAmountMinor)
                    .big_integer()
                    .not_null()
                    .default(0)
                    .to_owned(),
            ),
            (
                Alias::new("trade_ins"),
                ColumnDef::new(TradeIns::QuotedCurrency)
                    .string_len(3)
                    .not_null()
                    .default("")
                    .to_owned(),
            ),
            (
                Alias::new("jobs"),
                ColumnDef::new(Jobs::Version)
                    .big_integer()
                    .not_null()
                    .default(1)
                    .to_owned(),
            ),
            (
                Alias::new("jobs"),
                ColumnDef::new(Jobs::RequoteFailed)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
        ];
        for (table, mut column) in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns: [(Alias, Alias); 4] = [
            (Alias::new("jobs"), Alias::new("requote_failed")),
            (Alias::new("jobs"), Alias::new("version")),
            (Alias::new("trade_ins"), Alias::new("quoted_currency")),
            (Alias::new("trade_ins"), Alias::new("quoted_amount_minor")),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
