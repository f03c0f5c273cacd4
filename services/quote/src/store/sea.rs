use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use platform::outbox::publish;

use super::entities::{pricing_adjustment, quote};
use super::{Page, PageRequest, QuoteRepository, StoreError, read_model};
use crate::domain::{
    Adjustment, AdjustmentDraft, AdjustmentScope, CatalogModel, Category, Currency, LockedQuote,
    Money, Questionnaire, Quote,
};
use crate::published::{self, PRODUCER};

/// The quote's `aggregate_seq` when issued and once locked.
const ISSUED_VERSION: i64 = 1;
const LOCKED_VERSION: i64 = 2;

#[derive(Clone)]
pub struct SeaQuoteStore {
    db: DatabaseConnection,
}

impl SeaQuoteStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn from_json<T: DeserializeOwned>(id: Uuid, column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::Corrupt(format!("quote {id} {column}: {error}")))
}

fn to_quote(row: quote::Model) -> Result<Quote, StoreError> {
    let category = Category::parse(&row.category).ok_or_else(|| {
        StoreError::Corrupt(format!("quote {} has category {}", row.id, row.category))
    })?;
    let currency = Currency::parse(&row.currency).ok_or_else(|| {
        StoreError::Corrupt(format!("quote {} has currency {}", row.id, row.currency))
    })?;
    let money = |amount_minor| Money {
        amount_minor,
        currency,
    };
    let lock = match (row.locked_order_id, row.locked_at) {
        (Some(order_id), Some(locked_at)) => Some(LockedQuote {
            order_id,
            locked_at,
        }),
        _ => None,
    };
    Ok(Quote {
        id: row.id,
        variant_id: row.variant_id,
        model_id: row.model_id,
        category,
        base_price: money(row.base_price_minor),
        price: money(row.price_minor),
        floor_minor: row.floor_minor,
        answers: from_json(row.id, "answers", &row.answers)?,
        adjustments: from_json(row.id, "adjustments", &row.adjustments)?,
        breakdown: from_json(row.id, "breakdown", &row.breakdown)?,
        shopper_id: row.shopper_id,
        brand: row.brand,
        pincode: row.pincode,
        expires_at: row.expires_at,
        created_at: row.created_at,
        lock,
        version: row.version,
    })
}

fn to_adjustment(row: pricing_adjustment::Model) -> Result<Adjustment, StoreError> {
    let scope = AdjustmentScope::parse(&row.scope).ok_or_else(|| {
        StoreError::Corrupt(format!("adjustment {} has scope {}", row.id, row.scope))
    })?;
    Ok(Adjustment {
        id: row.id,
        scope,
        value: row.value,
        percent_basis_points: row.percent_basis_points,
        label: row.label,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        created_at: row.created_at,
    })
}

#[async_trait]
impl QuoteRepository for SeaQuoteStore {
    async fn model_of_variant(&self, variant_id: Uuid) -> Result<Option<CatalogModel>, StoreError> {
        read_model::model_of_variant(&self.db, variant_id).await
    }

    async fn questionnaire(&self, category: Category) -> Result<Option<Questionnaire>, StoreError> {
        read_model::questionnaire(&self.db, category).await
    }

    async fn save_catalog_snapshot(
        &self,
        model: &CatalogModel,
        questionnaire: &Questionnaire,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        read_model::upsert_model(&txn, model).await?;
        read_model::upsert_questionnaire(&txn, questionnaire).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn insert_quote(&self, quote: &Quote) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        quote::Entity::insert(quote::ActiveModel {
            id: Set(quote.id),
            shopper_id: Set(quote.shopper_id.clone()),
            variant_id: Set(quote.variant_id),
            model_id: Set(quote.model_id),
            category: Set(quote.category.as_str().to_owned()),
            brand: Set(quote.brand.clone()),
            currency: Set(quote.price.currency.as_str().to_owned()),
            base_price_minor: Set(quote.base_price.amount_minor),
            floor_minor: Set(quote.floor_minor),
            price_minor: Set(quote.price.amount_minor),
            answers: Set(to_json(&quote.answers)?),
            adjustments: Set(to_json(&quote.adjustments)?),
            breakdown: Set(to_json(&quote.breakdown)?),
            pincode: Set(quote.pincode.clone()),
            expires_at: Set(quote.expires_at),
            created_at: Set(quote.created_at),
            locked_order_id: Set(None),
            locked_at: Set(None),
            version: Set(ISSUED_VERSION),
        })
        .exec_without_returning(&txn)
        .await?;
        publish(
            &txn,
            PRODUCER,
            &quote.id.to_string(),
            ISSUED_VERSION as u64,
            &published::quote_issued(quote),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn quote(&self, id: Uuid) -> Result<Option<Quote>, StoreError> {
        quote::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(to_quote)
            .transpose()
    }

    async fn lock_quote(&self, quote: &Quote, lock: LockedQuote) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        // The condition is the whole guarantee: of two concurrent locks, the database lets
        // exactly one update the row from "unlocked"; the other sees 0 rows.
        let updated = quote::Entity::update_many()
            .col_expr(quote::Column::LockedOrderId, Expr::value(lock.order_id))
            .col_expr(quote::Column::LockedAt, Expr::value(lock.locked_at))
            .col_expr(quote::Column::Version, Expr::value(LOCKED_VERSION))
            .filter(quote::Column::Id.eq(quote.id))
            .filter(quote::Column::LockedOrderId.is_null())
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        publish(
            &txn,
            PRODUCER,
            &quote.id.to_string(),
            LOCKED_VERSION as u64,
            &published::quote_locked(quote, lock.order_id),
        )
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    async fn insert_adjustment(
        &self,
        id: Uuid,
        draft: AdjustmentDraft,
    ) -> Result<Adjustment, StoreError> {
        let row = pricing_adjustment::Model {
            id,
            scope: draft.scope.as_str().to_owned(),
            value: draft.value,
            percent_basis_points: draft.percent_basis_points,
            label: draft.label,
            starts_at: draft.starts_at,
            ends_at: draft.ends_at,
            created_at: crate::clock::now(),
        };
        pricing_adjustment::Entity::insert(pricing_adjustment::ActiveModel {
            id: Set(row.id),
            scope: Set(row.scope.clone()),
            value: Set(row.value.clone()),
            percent_basis_points: Set(row.percent_basis_points),
            label: Set(row.label.clone()),
            starts_at: Set(row.starts_at),
            ends_at: Set(row.ends_at),
            created_at: Set(row.created_at),
        })
        .exec_without_returning(&self.db)
        .await?;
        to_adjustment(row)
    }

    async fn adjustments(&self, page: PageRequest) -> Result<Page<Adjustment>, StoreError> {
        let query = pricing_adjustment::Entity::find();
        let total = query.clone().count(&self.db).await?;
        let items = query
            .order_by_desc(pricing_adjustment::Column::CreatedAt)
            .order_by_desc(pricing_adjustment::Column::Id)
            .offset(page.offset())
            .limit(page.per_page)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_adjustment)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total })
    }

    async fn adjustment(&self, id: Uuid) -> Result<Option<Adjustment>, StoreError> {
        pricing_adjustment::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(to_adjustment)
            .transpose()
    }

    async fn delete_adjustment(&self, id: Uuid) -> Result<bool, StoreError> {
        let deleted = pricing_adjustment::Entity::delete_by_id(id)
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected == 1)
    }

    async fn active_adjustments(&self, at: DateTime<Utc>) -> Result<Vec<Adjustment>, StoreError> {
        let adjustments = pricing_adjustment::Entity::find()
            .filter(pricing_adjustment::Column::StartsAt.lte(at))
            .filter(
                Condition::any()
                    .add(pricing_adjustment::Column::EndsAt.is_null())
                    .add(pricing_adjustment::Column::EndsAt.gt(at)),
            )
            .order_by_asc(pricing_adjustment::Column::CreatedAt)
            .order_by_asc(pricing_adjustment::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_adjustment)
            .collect::<Result<Vec<_>, _>>()?;
        // The database narrowed it down; the domain rule has the last word.
        Ok(adjustments
            .into_iter()
            .filter(|adjustment| adjustment.is_active_at(at))
            .collect())
    }
}
