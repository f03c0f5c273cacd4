//! sea-orm entities: the quote service's tables as stored. Nothing outside `store` sees them.

pub mod catalog_model {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "catalog_models")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub brand: String,
        pub name: String,
        pub category: String,
        pub retired: bool,
        /// The catalog's version of the model; only a newer snapshot or change replaces it.
        pub version: i64,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod catalog_variant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "catalog_variants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub model_id: Uuid,
        pub name: String,
        pub base_price_minor: i64,
        pub currency: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod catalog_questionnaire {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "catalog_questionnaires")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub category: String,
        /// The questions as JSON: always read and replaced as a whole.
        pub questions: String,
        /// When the catalog stated it; a snapshot only replaces an older one.
        pub as_of: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod pricing_adjustment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pricing_adjustments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub scope: String,
        pub value: String,
        pub percent_basis_points: i32,
        pub label: String,
        pub starts_at: DateTimeUtc,
        pub ends_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod quote {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "quotes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub shopper_id: String,
        pub variant_id: Uuid,
        pub model_id: Uuid,
        pub category: String,
        pub brand: String,
        pub currency: String,
        pub base_price_minor: i64,
        pub floor_minor: i64,
        pub price_minor: i64,
        /// JSON: the answers resolved against the questionnaire of the day.
        pub answers: String,
        /// JSON: the adjustments applied.
        pub adjustments: String,
        /// JSON: the price's breakdown lines.
        pub breakdown: String,
        pub pincode: String,
        pub expires_at: DateTimeUtc,
        pub created_at: DateTimeUtc,
        /// Set once, by the conditional update that locks the quote to an order.
        pub locked_order_id: Option<Uuid>,
        pub locked_at: Option<DateTimeUtc>,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
