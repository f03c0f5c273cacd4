//! Persistence behind a small trait: handlers and the seeder speak in domain types and never
//! build queries, so the storage (SQLite or PostgreSQL through sea-orm today) can change
//! without touching them.

mod entities;
mod sea;

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::{
    Category, DeviceModel, ModelDraft, ModelPatch, ModelStatus, Questionnaire, Variant,
    VariantDraft, VariantPatch,
};

pub use sea::SeaCatalogStore;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelFilter {
    pub category: Option<Category>,
    /// Exact brand, case-insensitive.
    pub brand: Option<String>,
    /// Substring of "brand name", case-insensitive.
    pub text: Option<String>,
    /// `None` means every status (admin only).
    pub status: Option<ModelStatus>,
}

pub use platform::pagination::PageRequest;

pub use platform::store_page::Page;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("device model {0} does not exist")]
    ModelNotFound(Uuid),
    #[error("variant {0} does not exist")]
    VariantNotFound(Uuid),
    #[error("a device model named `{brand} {name}` already exists")]
    DuplicateModel { brand: String, name: String },
    #[error("model {model_id} already has a variant named `{name}`")]
    DuplicateVariant { model_id: Uuid, name: String },
    #[error("device model {0} is retired and can no longer be changed")]
    ModelRetired(Uuid),
    #[error("device model {0} was changed concurrently; retry")]
    ConcurrentUpdate(Uuid),
    #[error("another write to the same data was in progress; retry")]
    WriteConflict,
    #[error("database error: {0}")]
    Database(#[source] sea_orm::DbErr),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait CatalogRepository: Send + Sync {
    async fn list_models(
        &self,
        filter: &ModelFilter,
        page: PageRequest,
    ) -> Result<Page<DeviceModel>, StoreError>;
    async fn model(&self, id: Uuid) -> Result<Option<DeviceModel>, StoreError>;
    /// The model (retired or not) that has the variant `variant_id`.
    async fn model_of_variant(&self, variant_id: Uuid) -> Result<Option<DeviceModel>, StoreError>;
    async fn create_model(&self, id: Uuid, draft: ModelDraft) -> Result<DeviceModel, StoreError>;
    async fn update_model(&self, id: Uuid, patch: ModelPatch) -> Result<DeviceModel, StoreError>;
    /// Idempotent: retiring a retired model changes nothing.
    async fn retire_model(&self, id: Uuid) -> Result<DeviceModel, StoreError>;
    async fn add_variant(
        &self,
        model_id: Uuid,
        id: Uuid,
        draft: VariantDraft,
    ) -> Result<Variant, StoreError>;
    async fn update_variant(&self, id: Uuid, patch: VariantPatch) -> Result<Variant, StoreError>;
    async fn delete_variant(&self, id: Uuid) -> Result<(), StoreError>;
    /// An empty questionnaire when none is stored for the category.
    async fn questionnaire(&self, category: Category) -> Result<Questionnaire, StoreError>;
    async fn replace_questionnaire(&self, questionnaire: Questionnaire) -> Result<(), StoreError>;
}

platform::write_conflict_from_db!(StoreError);
