use async_trait::async_trait;
use chrono::Utc;
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
    TransactionTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

use platform::outbox::publish;

use super::entities::{device_model, question, question_option, variant};
use super::{CatalogRepository, ModelFilter, Page, PageRequest, StoreError};
use crate::domain::{
    AnswerOption, Category, Currency, Deduction, DeviceModel, ModelDraft, ModelPatch, ModelStatus,
    Money, Question, Questionnaire, Variant, VariantDraft, VariantPatch,
};
use crate::published::{self, PRODUCER};

#[derive(Clone)]
pub struct SeaCatalogStore {
    db: DatabaseConnection,
}

impl SeaCatalogStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A model's events are sequenced by its version after the change.
fn seq(model: &DeviceModel) -> u64 {
    u64::try_from(model.version).unwrap_or(0)
}

/// The sequence number of the change about to bump `model`'s version.
fn next_seq(model: &DeviceModel) -> u64 {
    seq(model) + 1
}

fn identity_key(brand: &str, name: &str) -> String {
    format!("{}/{}", brand.to_lowercase(), name.to_lowercase())
}

fn search_text(brand: &str, name: &str) -> String {
    format!("{} {}", brand.to_lowercase(), name.to_lowercase())
}

/// `%text%` with LIKE's own wildcards escaped, so a search for "100%" finds "100%".
fn contains_pattern(text: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for character in text.to_lowercase().chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('\\')
}

fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn to_variant(row: variant::Model) -> Result<Variant, StoreError> {
    let currency = Currency::parse(&row.currency).ok_or_else(|| {
        StoreError::Corrupt(format!("variant {} has currency {}", row.id, row.currency))
    })?;
    Ok(Variant {
        id: row.id,
        model_id: row.model_id,
        name: row.name,
        base_price: Money {
            amount_minor: row.base_price_minor,
            currency,
        },
    })
}

fn to_model(
    row: device_model::Model,
    variants: Vec<variant::Model>,
) -> Result<DeviceModel, StoreError> {
    let category = Category::parse(&row.category).ok_or_else(|| {
        StoreError::Corrupt(format!("model {} has category {}", row.id, row.category))
    })?;
    let status = ModelStatus::parse(&row.status).ok_or_else(|| {
        StoreError::Corrupt(format!("model {} has status {}", row.id, row.status))
    })?;
    let mut variants = variants
        .into_iter()
        .map(to_variant)
        .collect::<Result<Vec<_>, _>>()?;
    variants.sort_by(|a, b| {
        (a.base_price.amount_minor, &a.name).cmp(&(b.base_price.amount_minor, &b.name))
    });
    Ok(DeviceModel {
        id: row.id,
        brand: row.brand,
        name: row.name,
        category,
        release_year: row.release_year,
        status,
        version: row.version,
        variants,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

impl SeaCatalogStore {
    async fn load_model<C: sea_orm::ConnectionTrait>(
        connection: &C,
        id: Uuid,
    ) -> Result<Option<DeviceModel>, StoreError> {
        let Some(row) = device_model::Entity::find_by_id(id).one(connection).await? else {
            return Ok(None);
        };
        let variants = variant::Entity::find()
            .filter(variant::Column::ModelId.eq(id))
            .all(connection)
            .await?;
        to_model(row, variants).map(Some)
    }

    /// Bumps the model's version, refusing if someone else bumped it first: the database is
    /// the backstop against two admins (or two instances) racing on one model.
    async fn bump_version<C: sea_orm::ConnectionTrait>(
        connection: &C,
        model: &DeviceModel,
    ) -> Result<(), StoreError> {
        let result = device_model::Entity::update_many()
            .col_expr(
                device_model::Column::Version,
                Expr::value(model.version + 1),
            )
            .col_expr(device_model::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(device_model::Column::Id.eq(model.id))
            .filter(device_model::Column::Version.eq(model.version))
            .exec(connection)
            .await?;
        if result.rows_affected == 1 {
            Ok(())
        } else {
            Err(StoreError::ConcurrentUpdate(model.id))
        }
    }

    async fn existing<C: sea_orm::ConnectionTrait>(
        connection: &C,
        id: Uuid,
    ) -> Result<DeviceModel, StoreError> {
        Self::load_model(connection, id)
            .await?
            .ok_or(StoreError::ModelNotFound(id))
    }

    /// Ends a change to `current`: bumps its version, publishes the event built from its
    /// new state in the same transaction, commits, and returns the new state.
    async fn commit_model_change<E: events::Event>(
        txn: DatabaseTransaction,
        current: &DeviceModel,
        event: impl FnOnce(&DeviceModel) -> E,
    ) -> Result<DeviceModel, StoreError> {
        Self::bump_version(&txn, current).await?;
        let changed = Self::existing(&txn, current.id).await?;
        publish(
            &txn,
            PRODUCER,
            &changed.id.to_string(),
            seq(&changed),
            &event(&changed),
        )
        .await?;
        txn.commit().await?;
        Ok(changed)
    }

    /// Ends a change to one of `model`'s variants: bumps the model's version, publishes
    /// `event` in the same transaction and commits.
    async fn commit_variant_change<E: events::Event>(
        txn: DatabaseTransaction,
        model: &DeviceModel,
        event: &E,
    ) -> Result<(), StoreError> {
        Self::bump_version(&txn, model).await?;
        publish(
            &txn,
            PRODUCER,
            &model.id.to_string(),
            next_seq(model),
            event,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn active_model<C: sea_orm::ConnectionTrait>(
        connection: &C,
        id: Uuid,
    ) -> Result<DeviceModel, StoreError> {
        let model = Self::existing(connection, id).await?;
        if model.status == ModelStatus::Retired {
            return Err(StoreError::ModelRetired(id));
        }
        Ok(model)
    }
}

#[async_trait]
impl CatalogRepository for SeaCatalogStore {
    async fn list_models(
        &self,
        filter: &ModelFilter,
        page: PageRequest,
    ) -> Result<Page<DeviceModel>, StoreError> {
        let mut condition = Condition::all();
        if let Some(status) = filter.status {
            condition = condition.add(device_model::Column::Status.eq(status.as_str()));
        }
        if let Some(category) = filter.category {
            condition = condition.add(device_model::Column::Category.eq(category.as_str()));
        }
        if let Some(brand) = &filter.brand {
            condition = condition.add(device_model::Column::BrandKey.eq(brand.to_lowercase()));
        }
        if let Some(text) = &filter.text {
            condition =
                condition.add(device_model::Column::SearchText.like(contains_pattern(text)));
        }
        let query = device_model::Entity::find().filter(condition);
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(device_model::Column::BrandKey)
            .order_by_asc(device_model::Column::SearchText)
            .order_by_asc(device_model::Column::Id)
            .offset((page.page - 1).saturating_mul(page.per_page))
            .limit(page.per_page)
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut variants_by_model: HashMap<Uuid, Vec<variant::Model>> = HashMap::new();
        if !ids.is_empty() {
            for row in variant::Entity::find()
                .filter(variant::Column::ModelId.is_in(ids))
                .all(&self.db)
                .await?
            {
                variants_by_model.entry(row.model_id).or_default().push(row);
            }
        }
        let items = rows
            .into_iter()
            .map(|row| {
                let variants = variants_by_model.remove(&row.id).unwrap_or_default();
                to_model(row, variants)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total })
    }

    async fn model(&self, id: Uuid) -> Result<Option<DeviceModel>, StoreError> {
        Self::load_model(&self.db, id).await
    }

    async fn model_of_variant(&self, variant_id: Uuid) -> Result<Option<DeviceModel>, StoreError> {
        let Some(row) = variant::Entity::find_by_id(variant_id)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Self::load_model(&self.db, row.model_id).await
    }

    async fn create_model(&self, id: Uuid, draft: ModelDraft) -> Result<DeviceModel, StoreError> {
        let now = Utc::now();
        let duplicate = || StoreError::DuplicateModel {
            brand: draft.brand.clone(),
            name: draft.name.clone(),
        };
        let txn = self.db.begin().await?;
        let inserted = device_model::ActiveModel {
            id: Set(id),
            brand: Set(draft.brand.clone()),
            name: Set(draft.name.clone()),
            category: Set(draft.category.as_str().to_owned()),
            release_year: Set(draft.release_year),
            status: Set(ModelStatus::Active.as_str().to_owned()),
            brand_key: Set(draft.brand.to_lowercase()),
            search_text: Set(search_text(&draft.brand, &draft.name)),
            identity_key: Set(identity_key(&draft.brand, &draft.name)),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await;
        match inserted {
            Err(error) if is_unique_violation(&error) => return Err(duplicate()),
            other => other?,
        };
        for variant in &draft.variants {
            // Derived from the model's id, so re-seeding finds the same variant ids.
            let variant_id = Uuid::new_v5(&id, variant.name.to_lowercase().as_bytes());
            insert_variant(&txn, id, variant_id, variant).await?;
        }
        let created = Self::existing(&txn, id).await?;
        publish(
            &txn,
            PRODUCER,
            &id.to_string(),
            1,
            &published::model_published(&created),
        )
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    async fn update_model(&self, id: Uuid, patch: ModelPatch) -> Result<DeviceModel, StoreError> {
        let txn = self.db.begin().await?;
        let current = Self::active_model(&txn, id).await?;
        let brand = patch.brand.unwrap_or_else(|| current.brand.clone());
        let name = patch.name.unwrap_or_else(|| current.name.clone());
        let updated = device_model::Entity::update_many()
            .col_expr(device_model::Column::Brand, Expr::value(brand.clone()))
            .col_expr(device_model::Column::Name, Expr::value(name.clone()))
            .col_expr(
                device_model::Column::BrandKey,
                Expr::value(brand.to_lowercase()),
            )
            .col_expr(
                device_model::Column::SearchText,
                Expr::value(search_text(&brand, &name)),
            )
            .col_expr(
                device_model::Column::IdentityKey,
                Expr::value(identity_key(&brand, &name)),
            )
            .col_expr(
                device_model::Column::Category,
                Expr::value(patch.category.unwrap_or(current.category).as_str()),
            )
            .col_expr(
                device_model::Column::ReleaseYear,
                Expr::value(patch.release_year.unwrap_or(current.release_year)),
            )
            .filter(device_model::Column::Id.eq(id))
            .exec(&txn)
            .await;
        match updated {
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::DuplicateModel { brand, name });
            }
            other => other?,
        };
        Self::commit_model_change(txn, &current, published::model_published).await
    }

    async fn retire_model(&self, id: Uuid) -> Result<DeviceModel, StoreError> {
        let txn = self.db.begin().await?;
        let current = Self::existing(&txn, id).await?;
        if current.status == ModelStatus::Retired {
            return Ok(current);
        }
        device_model::Entity::update_many()
            .col_expr(
                device_model::Column::Status,
                Expr::value(ModelStatus::Retired.as_str()),
            )
            .filter(device_model::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        Self::commit_model_change(txn, &current, published::model_retired).await
    }

    async fn add_variant(
        &self,
        model_id: Uuid,
        id: Uuid,
        draft: VariantDraft,
    ) -> Result<Variant, StoreError> {
        let txn = self.db.begin().await?;
        let model = Self::active_model(&txn, model_id).await?;
        insert_variant(&txn, model_id, id, &draft).await?;
        let row = variant::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(StoreError::VariantNotFound(id))?;
        let added = to_variant(row)?;
        Self::commit_variant_change(txn, &model, &published::variant_price_changed(&added)).await?;
        Ok(added)
    }

    async fn update_variant(&self, id: Uuid, patch: VariantPatch) -> Result<Variant, StoreError> {
        let txn = self.db.begin().await?;
        let row = variant::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(StoreError::VariantNotFound(id))?;
        let model = Self::active_model(&txn, row.model_id).await?;
        let model_id = row.model_id;
        let mut active: variant::ActiveModel = row.into();
        if let Some(name) = &patch.name {
            active.name = Set(name.clone());
            active.name_key = Set(name.to_lowercase());
        }
        if let Some(price) = &patch.base_price {
            active.base_price_minor = Set(price.amount_minor);
            active.currency = Set(price.currency.as_str().to_owned());
        }
        active.updated_at = Set(Utc::now());
        let updated = match active.update(&txn).await {
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::DuplicateVariant {
                    model_id,
                    name: patch.name.unwrap_or_default(),
                });
            }
            other => other?,
        };
        let changed = to_variant(updated)?;
        Self::commit_variant_change(txn, &model, &published::variant_price_changed(&changed))
            .await?;
        Ok(changed)
    }

    async fn delete_variant(&self, id: Uuid) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let row = variant::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(StoreError::VariantNotFound(id))?;
        let model = Self::active_model(&txn, row.model_id).await?;
        variant::Entity::delete_by_id(id).exec(&txn).await?;
        Self::commit_variant_change(txn, &model, &published::variant_removed(model.id, id)).await
    }

    async fn questionnaire(&self, category: Category) -> Result<Questionnaire, StoreError> {
        let questions = question::Entity::find()
            .filter(question::Column::Category.eq(category.as_str()))
            .order_by_asc(question::Column::Position)
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = questions.iter().map(|row| row.id).collect();
        let mut options_by_question: HashMap<Uuid, Vec<AnswerOption>> = HashMap::new();
        if !ids.is_empty() {
            for row in question_option::Entity::find()
                .filter(question_option::Column::QuestionId.is_in(ids))
                .order_by_asc(question_option::Column::Position)
                .all(&self.db)
                .await?
            {
                let deduction = match row.deduction_kind.as_str() {
                    "percentage" => Deduction::Percentage {
                        basis_points: u32::try_from(row.deduction_value).map_err(|_| {
                            StoreError::Corrupt(format!("option {} has a bad percentage", row.id))
                        })?,
                    },
                    "absolute" => Deduction::Absolute {
                        amount_minor: row.deduction_value,
                    },
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "option {} has deduction kind {other}",
                            row.id
                        )));
                    }
                };
                options_by_question
                    .entry(row.question_id)
                    .or_default()
                    .push(AnswerOption {
                        id: row.id,
                        key: row.key,
                        label: row.label,
                        deduction,
                    });
            }
        }
        Ok(Questionnaire {
            category,
            questions: questions
                .into_iter()
                .map(|row| Question {
                    options: options_by_question.remove(&row.id).unwrap_or_default(),
                    id: row.id,
                    key: row.key,
                    text: row.text,
                })
                .collect(),
        })
    }

    async fn replace_questionnaire(&self, questionnaire: Questionnaire) -> Result<(), StoreError> {
        let category = questionnaire.category.as_str();
        let txn = self.db.begin().await?;
        let event = published::questionnaire_replaced(&questionnaire);
        publish(
            &txn,
            PRODUCER,
            &published::questionnaire_key(&questionnaire),
            0,
            &event,
        )
        .await?;
        let old: Vec<Uuid> = question::Entity::find()
            .filter(question::Column::Category.eq(category))
            .all(&txn)
            .await?
            .into_iter()
            .map(|row| row.id)
            .collect();
        if !old.is_empty() {
            question_option::Entity::delete_many()
                .filter(question_option::Column::QuestionId.is_in(old.clone()))
                .exec(&txn)
                .await?;
            question::Entity::delete_many()
                .filter(question::Column::Id.is_in(old))
                .exec(&txn)
                .await?;
        }
        for (position, item) in questionnaire.questions.into_iter().enumerate() {
            question::ActiveModel {
                id: Set(item.id),
                category: Set(category.to_owned()),
                position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                key: Set(item.key),
                text: Set(item.text),
            }
            .insert(&txn)
            .await?;
            let rows = item
                .options
                .into_iter()
                .enumerate()
                .map(|(position, option)| {
                    let (kind, value) = match option.deduction {
                        Deduction::Percentage { basis_points } => {
                            ("percentage", i64::from(basis_points))
                        }
                        Deduction::Absolute { amount_minor } => ("absolute", amount_minor),
                    };
                    question_option::ActiveModel {
                        id: Set(option.id),
                        question_id: Set(item.id),
                        position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                        key: Set(option.key),
                        label: Set(option.label),
                        deduction_kind: Set(kind.to_owned()),
                        deduction_value: Set(value),
                    }
                })
                .collect::<Vec<_>>();
            if !rows.is_empty() {
                question_option::Entity::insert_many(rows)
                    .exec(&txn)
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }
}

async fn insert_variant<C: sea_orm::ConnectionTrait>(
    connection: &C,
    model_id: Uuid,
    id: Uuid,
    draft: &VariantDraft,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let inserted = variant::ActiveModel {
        id: Set(id),
        model_id: Set(model_id),
        name: Set(draft.name.clone()),
        name_key: Set(draft.name.to_lowercase()),
        base_price_minor: Set(draft.base_price.amount_minor),
        currency: Set(draft.base_price.currency.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(connection)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => Err(StoreError::DuplicateVariant {
            model_id,
            name: draft.name.clone(),
        }),
        Err(error) => Err(error.into()),
        Ok(_) => Ok(()),
    }
}
