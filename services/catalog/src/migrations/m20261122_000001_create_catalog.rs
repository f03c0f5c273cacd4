use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeviceModels {
    Table,
    Id,
    Brand,
    Name,
    Category,
    ReleaseYear,
    Status,
    BrandKey,
    SearchText,
    IdentityKey,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Variants {
    Table,
    Id,
    ModelId,
    Name,
    NameKey,
    BasePriceMinor,
    Currency,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Questions {
    Table,
    Id,
    Category,
    Position,
    Key,
    Text,
}

#[derive(DeriveIden)]
enum QuestionOptions {
    Table,
    Id,
    QuestionId,
    Position,
    Key,
    Label,
    DeductionKind,
    DeductionValue,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeviceModels::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(DeviceModels::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(DeviceModels::Brand).string_len(60).not_null())
                    .col(ColumnDef::new(DeviceModels::Name).string_len(120).not_null())
                    .col(ColumnDef::new(DeviceModels::Category).string_len(16).not_null())
                    .col(ColumnDef::new(DeviceModels::ReleaseYear).integer().not_null())
                    .col(ColumnDef::new(DeviceModels::Status).string_len(16).not_null())
                    .col(ColumnDef::new(DeviceModels::BrandKey).string_len(60).not_null())
                    .col(ColumnDef::new(DeviceModels::SearchText).string_len(200).not_null())
                    .col(
                        ColumnDef::new(DeviceModels::IdentityKey)
                            .string_len(200)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(DeviceModels::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(DeviceModels::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeviceModels::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_models_browse")
                    .table(DeviceModels::Table)
                    .col(DeviceModels::Status)
                    .col(DeviceModels::Category)
                    .col(DeviceModels::BrandKey)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Variants::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Variants::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Variants::ModelId).uuid().not_null())
                    .col(ColumnDef::new(Variants::Name).string_len(60).not_null())
                    .col(ColumnDef::new(Variants::NameKey).string_len(60).not_null())
                    .col(ColumnDef::new(Variants::BasePriceMinor).big_integer().not_null())
                    .col(ColumnDef::new(Variants::Currency).string_len(3).not_null())
                    .col(
                        ColumnDef::new(Variants::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Variants::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_variants_model")
                            .from(Variants::Table, Variants::ModelId)
                            .to(DeviceModels::Table, DeviceModels::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_variants_model_name")
                    .table(Variants::Table)
                    .col(Variants::ModelId)
                    .col(Variants::NameKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Questions::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Questions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Questions::Category).string_len(16).not_null())
                    .col(ColumnDef::new(Questions::Position).integer().not_null())
                    .col(ColumnDef::new(Questions::Key).string_len(48).not_null())
                    .col(ColumnDef::new(Questions::Text).string_len(300).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_questions_category_key")
                    .table(Questions::Table)
                    .col(Questions::Category)
                    .col(Questions::Key)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QuestionOptions::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(QuestionOptions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(QuestionOptions::QuestionId).uuid().not_null())
                    .col(ColumnDef::new(QuestionOptions::Position).integer().not_null())
                    .col(ColumnDef::new(QuestionOptions::Key).string_len(48).not_null())
                    .col(ColumnDef::new(QuestionOptions::Label).string_len(300).not_null())
                    .col(ColumnDef::new(QuestionOptions::DeductionKind).string_len(16).not_null())
                    .col(ColumnDef::new(QuestionOptions::DeductionValue).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_question_options_question")
                            .from(QuestionOptions::Table, QuestionOptions::QuestionId)
                            .to(Questions::Table, Questions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            QuestionOptions::Table.into_iden(),
            Questions::Table.into_iden(),
            Variants::Table.into_iden(),
            DeviceModels::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
