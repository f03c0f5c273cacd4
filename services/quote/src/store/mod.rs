//! Persistence behind a small trait: handlers speak in domain types and never build queries.
//! The catalog read model's writes are also plain functions over any connection
//! ([`read_model`]), because the consumer applies them inside the transaction in which it
//! records the event.

mod entities;
pub mod read_model;
mod sea;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    Adjustment, AdjustmentDraft, CatalogModel, Category, LockedQuote, Questionnaire, Quote,
};

pub use platform::pagination::PageRequest;
pub use sea::SeaQuoteStore;

pub use platform::store_page::Page;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another write to the same data was in progress; retry")]
    WriteConflict,
    #[error("database error: {0}")]
    Database(#[source] sea_orm::DbErr),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

platform::write_conflict_from_db!(StoreError);

#[async_trait]
pub trait QuoteRepository: Send + Sync {
    /// The read model's model that has variant `variant_id`, if known here.
    async fn model_of_variant(&self, variant_id: Uuid) -> Result<Option<CatalogModel>, StoreError>;
    /// The read model's questionnaire of `category`, if known here.
    async fn questionnaire(&self, category: Category) -> Result<Option<Questionnaire>, StoreError>;
    /// Stores what the catalog answered over HTTP, unless the read model already holds
    /// something newer.
    async fn save_catalog_snapshot(
        &self,
        model: &CatalogModel,
        questionnaire: &Questionnaire,
    ) -> Result<(), StoreError>;

    /// Stores a new quote and its `QuoteIssued` event in one transaction.
    async fn insert_quote(&self, quote: &Quote) -> Result<(), StoreError>;
    async fn quote(&self, id: Uuid) -> Result<Option<Quote>, StoreError>;
    /// Locks an unlocked quote to `lock.order_id` and stores `QuoteLocked`, in one
    /// transaction, with a conditional update: false if another lock got there first.
    async fn lock_quote(&self, quote: &Quote, lock: LockedQuote) -> Result<bool, StoreError>;

    async fn insert_adjustment(
        &self,
        id: Uuid,
        draft: AdjustmentDraft,
    ) -> Result<Adjustment, StoreError>;
    /// Newest first.
    async fn adjustments(&self, page: PageRequest) -> Result<Page<Adjustment>, StoreError>;
    async fn adjustment(&self, id: Uuid) -> Result<Option<Adjustment>, StoreError>;
    /// False if there was no such adjustment.
    async fn delete_adjustment(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Adjustments whose window contains `at`, oldest first.
    async fn active_adjustments(&self, at: DateTime<Utc>) -> Result<Vec<Adjustment>, StoreError>;
}
