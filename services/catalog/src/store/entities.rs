//! sea-orm entities: the catalog's tables as stored. Nothing outside `store` sees them.

pub mod device_model {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "device_models")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub brand: String,
        pub name: String,
        pub category: String,
        pub release_year: i32,
        pub status: String,
        /// `lower(brand)`: exact, case-insensitive brand filter.
        pub brand_key: String,
        /// `lower(brand + " " + name)`: text search.
        pub search_text: String,
        /// `lower(brand) + "/" + lower(name)`: unique, so one device is listed once.
        #[sea_orm(unique)]
        pub identity_key: String,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::variant::Entity")]
        Variant,
    }

    impl Related<super::variant::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Variant.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod variant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "variants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub model_id: Uuid,
        pub name: String,
        /// `lower(name)`, unique per model.
        pub name_key: String,
        pub base_price_minor: i64,
        pub currency: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::device_model::Entity",
            from = "Column::ModelId",
            to = "super::device_model::Column::Id"
        )]
        DeviceModel,
    }

    impl Related<super::device_model::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::DeviceModel.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod question {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "questions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub category: String,
        pub position: i32,
        pub key: String,
        pub text: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod question_option {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "question_options")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub question_id: Uuid,
        pub position: i32,
        pub key: String,
        pub label: String,
        /// `percentage` or `absolute`.
        pub deduction_kind: String,
        /// Basis points for `percentage`, minor units for `absolute`.
        pub deduction_value: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
