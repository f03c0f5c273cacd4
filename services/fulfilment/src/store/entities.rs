//! Table mappings; only the store module sees these.

pub mod partners {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "partners")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub kind: String,
        /// Comma-separated six-digit pincodes.
        pub pincodes: String,
        pub daily_capacity: i64,
        pub active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod trade_ins {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "trade_ins")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: Uuid,
        pub quote_id: Uuid,
        pub variant_id: Uuid,
        pub pincode: String,
        pub address: String,
        pub slot_date: String,
        pub slot_window: String,
        /// The last `aggregate_seq` fulfilment published for this order.
        pub seq: i64,
        /// The price the shopper was quoted (`OrderConfirmed.quoted_price`).
        pub quoted_amount_minor: i64,
        pub quoted_currency: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod jobs {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub kind: String,
        pub status: String,
        pub partner_id: Option<Uuid>,
        /// The day the job counts against a partner's capacity (YYYY-MM-DD).
        pub day: String,
        pub pincode: String,
        pub address: String,
        pub slot_date: String,
        pub slot_window: String,
        pub offered_at: Option<DateTimeUtc>,
        /// Comma-separated ids of partners that declined or let the offer lapse.
        pub excluded: String,
        pub answers: Option<Json>,
        pub notes: Option<String>,
        pub requote_due_at: Option<DateTimeUtc>,
        pub requote_attempts: i32,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// Bumped by every write; a write expecting an older version commits nothing.
        pub version: i64,
        /// Quote refused the re-pricing request itself: no more automatic attempts.
        pub requote_failed: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod job_history {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_history")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub job_id: Uuid,
        pub status: String,
        pub partner_id: Option<Uuid>,
        pub reason: Option<String>,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
