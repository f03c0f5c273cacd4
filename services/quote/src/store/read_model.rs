//! The local copy of the catalog, written by the `catalog.events` consumer (inside its
//! transaction) and by the HTTP fallback. Every write is "newer wins": a model carries the
//! catalog's version, a questionnaire the time the catalog stated it, so a late or replayed
//! snapshot never overwrites fresher data, whichever path brought it.

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::StoreError;
use super::entities::{catalog_model, catalog_questionnaire, catalog_variant};
use crate::domain::{
    CatalogModel, CatalogVariant, Category, Currency, Money, Question, Questionnaire,
};

fn to_variant(row: catalog_variant::Model) -> Result<CatalogVariant, StoreError> {
    let currency = Currency::parse(&row.currency).ok_or_else(|| {
        StoreError::Corrupt(format!("variant {} has currency {}", row.id, row.currency))
    })?;
    Ok(CatalogVariant {
        id: row.id,
        name: row.name,
        base_price: Money {
            amount_minor: row.base_price_minor,
            currency,
        },
    })
}

pub async fn model<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<CatalogModel>, StoreError> {
    let Some(row) = catalog_model::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let category = Category::parse(&row.category).ok_or_else(|| {
        StoreError::Corrupt(format!("model {} has category {}", row.id, row.category))
    })?;
    let variants = catalog_variant::Entity::find()
        .filter(catalog_variant::Column::ModelId.eq(id))
        .order_by_asc(catalog_variant::Column::BasePriceMinor)
        .all(db)
        .await?
        .into_iter()
        .map(to_variant)
        .collect::<Result<_, _>>()?;
    Ok(Some(CatalogModel {
        id: row.id,
        brand: row.brand,
        name: row.name,
        category,
        retired: row.retired,
        version: row.version,
        variants,
    }))
}

pub async fn model_of_variant<C: ConnectionTrait>(
    db: &C,
    variant_id: Uuid,
) -> Result<Option<CatalogModel>, StoreError> {
    match catalog_variant::Entity::find_by_id(variant_id)
        .one(db)
        .await?
    {
        Some(row) => model(db, row.model_id).await,
        None => Ok(None),
    }
}

pub async fn questionnaire<C: ConnectionTrait>(
    db: &C,
    category: Category,
) -> Result<Option<Questionnaire>, StoreError> {
    let Some(row) = catalog_questionnaire::Entity::find_by_id(category.as_str().to_owned())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let questions: Vec<Question> = serde_json::from_str(&row.questions)
        .map_err(|error| StoreError::Corrupt(format!("questionnaire {}: {error}", row.category)))?;
    Ok(Some(Questionnaire {
        category,
        questions,
        as_of: row.as_of,
    }))
}

async fn insert_variant<C: ConnectionTrait>(
    db: &C,
    model_id: Uuid,
    variant: &CatalogVariant,
) -> Result<(), DbErr> {
    catalog_variant::Entity::delete_by_id(variant.id)
        .exec(db)
        .await?;
    catalog_variant::Entity::insert(catalog_variant::ActiveModel {
        id: Set(variant.id),
        model_id: Set(model_id),
        name: Set(variant.name.clone()),
        base_price_minor: Set(variant.base_price.amount_minor),
        currency: Set(variant.base_price.currency.as_str().to_owned()),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Moves model `id` to `version` if it is older; false if it is unknown or already newer.
async fn advance_model<C: ConnectionTrait>(db: &C, id: Uuid, version: i64) -> Result<bool, DbErr> {
    let updated = catalog_model::Entity::update_many()
        .col_expr(catalog_model::Column::Version, Expr::value(version))
        .col_expr(catalog_model::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(catalog_model::Column::Id.eq(id))
        .filter(catalog_model::Column::Version.lt(version))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Replaces the model and all its variants with `snapshot`, if it is newer than what is
/// stored. Returns whether it was applied.
pub async fn upsert_model<C: ConnectionTrait>(
    db: &C,
    snapshot: &CatalogModel,
) -> Result<bool, DbErr> {
    let row = catalog_model::ActiveModel {
        id: Set(snapshot.id),
        brand: Set(snapshot.brand.clone()),
        name: Set(snapshot.name.clone()),
        category: Set(snapshot.category.as_str().to_owned()),
        retired: Set(snapshot.retired),
        version: Set(snapshot.version),
        updated_at: Set(Utc::now()),
    };
    let stored = catalog_model::Entity::find_by_id(snapshot.id)
        .one(db)
        .await?;
    match stored {
        Some(stored) if stored.version >= snapshot.version => return Ok(false),
        Some(_) => {
            let updated = catalog_model::Entity::update_many()
                .set(row)
                .filter(catalog_model::Column::Id.eq(snapshot.id))
                .filter(catalog_model::Column::Version.lt(snapshot.version))
                .exec(db)
                .await?;
            if updated.rows_affected == 0 {
                return Ok(false);
            }
        }
        None => {
            let inserted = catalog_model::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(catalog_model::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
            if inserted == 0 {
                return Ok(false);
            }
        }
    }
    catalog_variant::Entity::delete_many()
        .filter(catalog_variant::Column::ModelId.eq(snapshot.id))
        .exec(db)
        .await?;
    for variant in &snapshot.variants {
        insert_variant(db, snapshot.id, variant).await?;
    }
    Ok(true)
}

/// A variant added, renamed or re-priced at model `version`.
pub async fn upsert_variant<C: ConnectionTrait>(
    db: &C,
    model_id: Uuid,
    version: i64,
    variant: &CatalogVariant,
) -> Result<bool, DbErr> {
    if !advance_model(db, model_id, version).await? {
        return Ok(false);
    }
    insert_variant(db, model_id, variant).await?;
    Ok(true)
}

pub async fn remove_variant<C: ConnectionTrait>(
    db: &C,
    model_id: Uuid,
    version: i64,
    variant_id: Uuid,
) -> Result<bool, DbErr> {
    if !advance_model(db, model_id, version).await? {
        return Ok(false);
    }
    catalog_variant::Entity::delete_by_id(variant_id)
        .exec(db)
        .await?;
    Ok(true)
}

pub async fn retire_model<C: ConnectionTrait>(
    db: &C,
    model_id: Uuid,
    version: i64,
) -> Result<bool, DbErr> {
    if !advance_model(db, model_id, version).await? {
        return Ok(false);
    }
    catalog_model::Entity::update_many()
        .col_expr(catalog_model::Column::Retired, Expr::value(true))
        .filter(catalog_model::Column::Id.eq(model_id))
        .exec(db)
        .await?;
    Ok(true)
}

/// Replaces the category's questionnaire if `snapshot` is newer than the stored one.
pub async fn upsert_questionnaire<C: ConnectionTrait>(
    db: &C,
    snapshot: &Questionnaire,
) -> Result<bool, DbErr> {
    let category = snapshot.category.as_str().to_owned();
    let questions = serde_json::to_string(&snapshot.questions)
        .map_err(|error| DbErr::Custom(error.to_string()))?;
    let stored = catalog_questionnaire::Entity::find_by_id(category.clone())
        .one(db)
        .await?;
    match stored {
        Some(stored) if stored.as_of >= snapshot.as_of => Ok(false),
        Some(_) => {
            let updated = catalog_questionnaire::Entity::update_many()
                .col_expr(
                    catalog_questionnaire::Column::Questions,
                    Expr::value(questions),
                )
                .col_expr(
                    catalog_questionnaire::Column::AsOf,
                    Expr::value(snapshot.as_of),
                )
                .filter(catalog_questionnaire::Column::Category.eq(category))
                .filter(catalog_questionnaire::Column::AsOf.lt(snapshot.as_of))
                .exec(db)
                .await?;
            Ok(updated.rows_affected == 1)
        }
        None => {
            let inserted =
                catalog_questionnaire::Entity::insert(catalog_questionnaire::ActiveModel {
                    category: Set(category),
                    questions: Set(questions),
                    as_of: Set(snapshot.as_of),
                })
                .on_conflict(
                    OnConflict::column(catalog_questionnaire::Column::Category)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
            Ok(inserted == 1)
        }
    }
}
