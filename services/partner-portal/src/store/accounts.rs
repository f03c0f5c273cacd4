//! Partner users, webhooks and the listings routes page through: what routes read and write
//! about a partner's account, as records, so that no handler builds a query or an
//! `ActiveModel` of its own.

use chrono::Utc;
use sea_orm::ActiveValue::Unchanged;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set, SqlErr,
};
use uuid::Uuid;

use super::entities::{portal_jobs, portal_users, webhook_deliveries, webhooks};
use super::{Page, StoreError, page_of};
use crate::domain::{
    Delivery, DeliveryStatus, JobKind, JobStatus, NewUser, PortalJob, PortalUser, Webhook,
};

/// Stores a new, active partner user; `EmailTaken` if the address is someone's already.
pub async fn create_user<C: ConnectionTrait>(
    db: &C,
    user: NewUser,
) -> Result<PortalUser, StoreError> {
    let now = Utc::now();
    portal_users::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(user.partner_id),
        email: Set(user.email),
        name: Set(user.name),
        active: Set(true),
        tokens_valid_from: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::EmailTaken,
        _ => StoreError::Database(error),
    })?
    .try_into()
}

pub async fn user<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<PortalUser>, StoreError> {
    portal_users::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(PortalUser::try_from)
        .transpose()
}

/// Users by email, of one partner or all.
pub async fn users_page<C: ConnectionTrait>(
    db: &C,
    partner_id: Option<Uuid>,
    offset: u64,
    limit: u64,
) -> Result<Page<PortalUser>, StoreError> {
    let mut select = portal_users::Entity::find();
    if let Some(partner_id) = partner_id {
        select = select.filter(portal_users::Column::PartnerId.eq(partner_id));
    }
    page_of(
        db,
        select.order_by_asc(portal_users::Column::Email),
        offset,
        limit,
    )
    .await
}

/// Renames, disables or re-enables a user. Re-enabling dates its valid tokens from now, so
/// the ones issued before it was disabled stay void.
pub async fn change_user<C: ConnectionTrait>(
    db: &C,
    user: PortalUser,
    name: Option<String>,
    active: Option<bool>,
) -> Result<PortalUser, StoreError> {
    let now = Utc::now();
    let mut row = portal_users::ActiveModel {
        id: Unchanged(user.id),
        updated_at: Set(now),
        ..Default::default()
    };
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(active) = active {
        row.active = Set(active);
        if active && !user.active {
            row.tokens_valid_from = Set(Some(now));
        }
    }
    row.update(db).await?.try_into()
}

/// Every user some of whose tokens are revoked: the disabled and the re-enabled.
pub async fn users_with_revoked_tokens<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<PortalUser>, StoreError> {
    portal_users::Entity::find()
        .filter(
            Condition::any()
                .add(portal_users::Column::Active.eq(false))
                .add(portal_users::Column::TokensValidFrom.is_not_null()),
        )
        .all(db)
        .await?
        .into_iter()
        .map(PortalUser::try_from)
        .collect()
}

pub async fn create_webhook<C: ConnectionTrait>(
    db: &C,
    partner_id: Uuid,
    url: String,
    secret: String,
) -> Result<Webhook, StoreError> {
    webhooks::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(partner_id),
        url: Set(url),
        secret: Set(secret),
        active: Set(true),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?
    .try_into()
}

pub async fn webhook<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Webhook>, StoreError> {
    webhooks::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Webhook::try_from)
        .transpose()
}

/// A partner's active webhooks, oldest first.
pub async fn active_webhooks_page<C: ConnectionTrait>(
    db: &C,
    partner_id: Uuid,
    offset: u64,
    limit: u64,
) -> Result<Page<Webhook>, StoreError> {
    let select = webhooks::Entity::find()
        .filter(webhooks::Column::PartnerId.eq(partner_id))
        .filter(webhooks::Column::Active.eq(true))
        .order_by_asc(webhooks::Column::CreatedAt);
    page_of(db, select, offset, limit).await
}

/// Removes a webhook: it stays for the delivery log, inactive.
pub async fn deactivate_webhook<C: ConnectionTrait>(
    db: &C,
    hook: Webhook,
) -> Result<(), StoreError> {
    webhooks::ActiveModel {
        id: Unchanged(hook.id),
        active: Set(false),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

pub async fn replace_webhook_secret<C: ConnectionTrait>(
    db: &C,
    hook: Webhook,
    secret: String,
) -> Result<Webhook, StoreError> {
    webhooks::ActiveModel {
        id: Unchanged(hook.id),
        secret: Set(secret),
        ..Default::default()
    }
    .update(db)
    .await?
    .try_into()
}

pub async fn delivery<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<Delivery>, StoreError> {
    webhook_deliveries::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Delivery::try_from)
        .transpose()
}

/// Deliveries newest first, of one partner or all, of one status or any.
pub async fn deliveries_page<C: ConnectionTrait>(
    db: &C,
    partner_id: Option<Uuid>,
    status: Option<DeliveryStatus>,
    offset: u64,
    limit: u64,
) -> Result<Page<Delivery>, StoreError> {
    let mut select = webhook_deliveries::Entity::find();
    if let Some(partner_id) = partner_id {
        select = select.filter(webhook_deliveries::Column::PartnerId.eq(partner_id));
    }
    if let Some(status) = status {
        select = select.filter(webhook_deliveries::Column::Status.eq(status.as_str()));
    }
    let select = select
        .order_by_desc(webhook_deliveries::Column::CreatedAt)
        .order_by_desc(webhook_deliveries::Column::Id);
    page_of(db, select, offset, limit).await
}

/// Jobs newest first, of one partner or all, of one status and kind or any.
pub async fn jobs_page<C: ConnectionTrait>(
    db: &C,
    partner_id: Option<Uuid>,
    status: Option<JobStatus>,
    kind: Option<JobKind>,
    offset: u64,
    limit: u64,
) -> Result<Page<PortalJob>, StoreError> {
    let mut select = portal_jobs::Entity::find();
    if let Some(partner_id) = partner_id {
        select = select.filter(portal_jobs::Column::PartnerId.eq(partner_id));
    }
    if let Some(status) = status {
        select = select.filter(portal_jobs::Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = kind {
        select = select.filter(portal_jobs::Column::Kind.eq(kind.as_str()));
    }
    let select = select
        .order_by_desc(portal_jobs::Column::CreatedAt)
        .order_by_desc(portal_jobs::Column::Id);
    page_of(db, select, offset, limit).await
}
