//! The tables the event backbone keeps in each service's own database: the outbox (events
//! waiting to leave), processed events and aggregate progress (what a consumer has already
//! applied), and dead letters. They live beside the service's data so that an event and
//! the state change it describes commit, or roll back, together.

use sea_orm_migration::prelude::*;

pub mod outbox {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub event_id: Uuid,
        pub topic: String,
        pub aggregate_id: String,
        pub event_type: String,
        /// The encoded `Envelope`.
        pub payload: Vec<u8>,
        pub traceparent: String,
        pub created_at: DateTimeUtc,
        pub sent_at: Option<DateTimeUtc>,
        /// Sends the broker refused while it accepted others (see [`super::ParkOutboxRows`]).
        pub attempts: i32,
        pub last_error: Option<String>,
        /// Set when the row was given up on: the relay skips it until an admin retries it.
        pub parked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod processed_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "processed_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: Uuid,
        pub processed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod aggregate_progress {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "aggregate_progress")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub producer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub aggregate_id: String,
        /// The highest `aggregate_seq` applied; the next one applied must be this + 1.
        pub last_seq: i64,
        /// The fencing token of the lease that applied it; an older lease cannot write.
        pub fence: i64,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod dead_letter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "dead_letters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub consumer: String,
        /// Absent when the message was not even a valid envelope.
        pub event_id: Option<String>,
        pub event_type: Option<String>,
        pub topic: String,
        pub partition: i32,
        pub offset: i64,
        pub key: Option<String>,
        pub payload: Vec<u8>,
        pub error: String,
        pub attempts: i32,
        pub created_at: DateTimeUtc,
        /// When it was resolved (replayed or skipped); open while unset.
        pub replayed_at: Option<DateTimeUtc>,
        /// `replayed` or `skipped` once resolved (see [`super::HoldEarlyEvents`]).
        pub resolution: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Add to a service's `Migrator` (before or after its own migrations; it never changes).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    EventId,
    Topic,
    AggregateId,
    EventType,
    Payload,
    Traceparent,
    CreatedAt,
    SentAt,
}

pub mod held_event {
    use sea_orm::entity::prelude::*;

    /// An event that arrived before its predecessor, kept here (not in memory) so that its
    /// offset can be committed and the partition goes on; applied once the key's progress
    /// reaches the slot before it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "held_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub producer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub aggregate_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub topic: String,
        /// The encoded `Envelope`, as it came.
        pub payload: Vec<u8>,
        pub held_at: DateTimeUtc,
        /// Not handed to a worker again before this (one is working on it).
        pub retry_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Events held behind a missing predecessor (`held_events`), and how a dead letter was
/// resolved (`dead_letters.resolution`). Add after [`Migration`].
pub struct HoldEarlyEvents;

impl MigrationName for HoldEarlyEvents {
    fn name(&self) -> &str {
        "m20261130_000003_hold_early_events"
    }
}

#[derive(DeriveIden)]
enum HeldEvents {
    Table,
    Consumer,
    Producer,
    AggregateId,
    Seq,
    Topic,
    Payload,
    HeldAt,
    RetryAt,
}

#[derive(DeriveIden)]
enum DeadLetterResolution {
    Resolution,
}

#[async_trait::async_trait]
impl MigrationTrait for HoldEarlyEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HeldEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(HeldEvents::Consumer)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HeldEvents::Producer)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HeldEvents::AggregateId)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(HeldEvents::Seq).big_integer().not_null())
                    .col(ColumnDef::new(HeldEvents::Topic).string_len(200).not_null())
                    .col(ColumnDef::new(HeldEvents::Payload).binary().not_null())
                    .col(
                        ColumnDef::new(HeldEvents::HeldAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HeldEvents::RetryAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(HeldEvents::Consumer)
                            .col(HeldEvents::Producer)
                            .col(HeldEvents::AggregateId)
                            .col(HeldEvents::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DeadLetters::Table)
                    .add_column_if_not_exists(
                        ColumnDef::new(DeadLetterResolution::Resolution)
                            .string_len(20)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DeadLetters::Table)
                    .drop_column(DeadLetterResolution::Resolution)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(HeldEvents::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// Adds what lets the relay park a row the broker will not take, instead of failing every
/// round for it: `attempts`, `last_error`, `parked_at`. Add after [`Migration`].
pub struct ParkOutboxRows;

impl MigrationName for ParkOutboxRows {
    fn name(&self) -> &str {
        "m20261130_000002_park_outbox_rows"
    }
}

#[derive(DeriveIden)]
enum OutboxParking {
    Attempts,
    LastError,
    ParkedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for ParkOutboxRows {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            ColumnDef::new(OutboxParking::Attempts)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(OutboxParking::LastError)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(OutboxParking::ParkedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .add_column_if_not_exists(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            OutboxParking::ParkedAt,
            OutboxParking::LastError,
            OutboxParking::Attempts,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ProcessedEvents {
    Table,
    Consumer,
    EventId,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum AggregateProgress {
    Table,
    Consumer,
    Producer,
    AggregateId,
    LastSeq,
    Fence,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    Id,
    Consumer,
    EventId,
    EventType,
    Topic,
    Partition,
    Offset,
    Key,
    Payload,
    Error,
    Attempts,
    CreatedAt,
    ReplayedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Outbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Outbox::EventId)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Outbox::Topic).string_len(200).not_null())
                    .col(
                        ColumnDef::new(Outbox::AggregateId)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Outbox::EventType).string_len(200).not_null())
                    .col(ColumnDef::new(Outbox::Payload).binary().not_null())
                    .col(
                        ColumnDef::new(Outbox::Traceparent)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Outbox::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Outbox::SentAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_unsent")
                    .table(Outbox::Table)
                    .col(Outbox::SentAt)
                    .col(Outbox::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProcessedEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ProcessedEvents::Consumer)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ProcessedEvents::EventId).uuid().not_null())
                    .col(
                        ColumnDef::new(ProcessedEvents::ProcessedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ProcessedEvents::Consumer)
                            .col(ProcessedEvents::EventId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AggregateProgress::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AggregateProgress::Consumer)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AggregateProgress::Producer)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AggregateProgress::AggregateId)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AggregateProgress::LastSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AggregateProgress::Fence)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AggregateProgress::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AggregateProgress::Consumer)
                            .col(AggregateProgress::Producer)
                            .col(AggregateProgress::AggregateId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeadLetters::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DeadLetters::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DeadLetters::Consumer)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(DeadLetters::EventId).string_len(64).null())
                    .col(
                        ColumnDef::new(DeadLetters::EventType)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(DeadLetters::Topic)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(DeadLetters::Partition).integer().not_null())
                    .col(ColumnDef::new(DeadLetters::Offset).big_integer().not_null())
                    .col(ColumnDef::new(DeadLetters::Key).string_len(200).null())
                    .col(ColumnDef::new(DeadLetters::Payload).binary().not_null())
                    .col(ColumnDef::new(DeadLetters::Error).text().not_null())
                    .col(ColumnDef::new(DeadLetters::Attempts).integer().not_null())
                    .col(
                        ColumnDef::new(DeadLetters::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeadLetters::ReplayedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DeadLetters::Table.into_iden(),
            AggregateProgress::Table.into_iden(),
            ProcessedEvents::Table.into_iden(),
            Outbox::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
