//! The projection's persistence. The consumer's handlers write through the functions here
//! inside the consumer's transaction (once per event, under the order's lease, so a
//! read-then-write of one order's rows cannot interleave with another event of that
//! order); the reports ([`reports`]) read aggregates. Only records go in and out.

mod entities;
pub mod reports;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
};
use uuid::Uuid;

use crate::domain::{Money, OfferAnswer, OrderStatus, ReportOrder, StateSpan, day_key};
use entities::{
    report_jobs, report_offers, report_order_states, report_orders, report_projection,
    report_quotes,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("a stored row does not read back: {0}")]
    Corrupt(String),
}

/// The projection's generation: made once, the first time its database is used, and kept
/// for as long as that database is. The consumer group is named after it.
pub async fn generation<C: ConnectionTrait>(db: &C) -> Result<Uuid, DbErr> {
    const NAME: &str = "projection";
    let made = report_projection::ActiveModel {
        name: Set(NAME.to_owned()),
        generation: Set(Uuid::now_v7()),
        created_at: Set(Utc::now()),
    };
    report_projection::Entity::insert(made)
        .on_conflict(
            OnConflict::column(report_projection::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    report_projection::Entity::find_by_id(NAME)
        .one(db)
        .await?
        .map(|row| row.generation)
        .ok_or_else(|| DbErr::RecordNotFound("the projection's generation".into()))
}

/// A quote as issued; seen again (a redelivery after a rebuild), kept as first seen.
pub async fn record_quote<C: ConnectionTrait>(
    db: &C,
    quote_id: Uuid,
    issued_at: DateTime<Utc>,
    price: Option<Money>,
) -> Result<(), StoreError> {
    let row = report_quotes::ActiveModel {
        quote_id: Set(quote_id),
        issued_at: Set(issued_at),
        issued_on: Set(day_key(issued_at.date_naive())),
        price_minor: Set(price.as_ref().map(|money| money.amount_minor)),
        currency: Set(price.map(|money| money.currency)),
    };
    report_quotes::Entity::insert(row)
        .on_conflict(
            OnConflict::column(report_quotes::Column::QuoteId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn order_record(row: report_orders::Model) -> Result<ReportOrder, StoreError> {
    let status = OrderStatus::parse(&row.status).ok_or_else(|| {
        StoreError::Corrupt(format!("order {} is `{}`", row.order_id, row.status))
    })?;
    Ok(ReportOrder {
        id: row.order_id,
        quote_id: row.quote_id,
        placed_at: row.placed_at,
        status,
        status_since: row.status_since,
        currency: row.currency,
        quoted_minor: row.quoted_minor,
        final_minor: row.final_minor,
        paid_minor: row.paid_minor,
        paid_at: row.paid_at,
    })
}

pub async fn order<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<ReportOrder>, StoreError> {
    report_orders::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(order_record)
        .transpose()
}

/// Writes the order's row as `order` has it and the span of the status it left.
pub async fn save_order<C: ConnectionTrait>(
    db: &C,
    order: &ReportOrder,
    existed: bool,
    left: Option<StateSpan>,
) -> Result<(), StoreError> {
    let row = report_orders::ActiveModel {
        order_id: Set(order.id),
        quote_id: Set(order.quote_id),
        placed_at: Set(order.placed_at),
        placed_on: Set(order.placed_on().map(day_key)),
        status: Set(order.status.as_str().to_owned()),
        status_since: Set(order.status_since),
        currency: Set(order.currency.clone()),
        quoted_minor: Set(order.quoted_minor),
        final_minor: Set(order.final_minor),
        paid_minor: Set(order.paid_minor),
        paid_at: Set(order.paid_at),
        paid_on: Set(order.paid_at.map(|at| day_key(at.date_naive()))),
        millis_to_payout: Set(order.millis_to_payout()),
    };
    if existed {
        row.update(db).await?;
    } else {
        row.insert(db).await?;
    }
    if let Some(span) = left {
        let row = report_order_states::ActiveModel {
            order_id: Set(order.id),
            status: Set(span.status.as_str().to_owned()),
            entered_at: Set(span.entered_at),
            left_at: Set(span.left_at),
            left_on: Set(day_key(span.left_at.date_naive())),
            millis: Set(span.millis()),
        };
        report_order_states::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    report_order_states::Column::OrderId,
                    report_order_states::Column::Status,
                    report_order_states::Column::EnteredAt,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// What is known of a job, whichever of fulfilment's or the partner's events came first.
#[derive(Debug, Clone, Default)]
pub struct JobChange {
    pub kind: Option<String>,
    pub partner_id: Option<Uuid>,
    pub due_by: Option<DateTime<Utc>>,
    pub picked_up_at: Option<DateTime<Utc>>,
}

/// Merges `change` into the job's row: a known value is kept unless the change brings one,
/// and the earliest pickup report wins.
pub async fn change_job<C: ConnectionTrait>(
    db: &C,
    job_id: Uuid,
    order_id: Uuid,
    change: JobChange,
) -> Result<(), StoreError> {
    let existing = report_jobs::Entity::find_by_id(job_id).one(db).await?;
    let existed = existing.is_some();
    let current = existing.unwrap_or(report_jobs::Model {
        job_id,
        order_id,
        kind: None,
        partner_id: None,
        due_by: None,
        due_on: None,
        picked_up_at: None,
        on_time: None,
    });
    let due_by = change.due_by.or(current.due_by);
    let picked_up_at = match (current.picked_up_at, change.picked_up_at) {
        (Some(seen), Some(new)) => Some(seen.min(new)),
        (seen, new) => seen.or(new),
    };
    let next = report_jobs::Model {
        kind: change.kind.or(current.kind.clone()),
        partner_id: change.partner_id.or(current.partner_id),
        due_by,
        due_on: due_by.map(|at| day_key(at.date_naive())),
        picked_up_at,
        on_time: picked_up_at.zip(due_by).map(|(picked, due)| picked <= due),
        ..current
    };
    let row = next.into_active_model().reset_all();
    if existed {
        row.update(db).await?;
    } else {
        row.insert(db).await?;
    }
    Ok(())
}

/// An offer of `job_id` to `partner_id` (`offered_at`) or the partner's answer to it, in
/// whichever order they arrive; a first answer is kept.
pub async fn change_offer<C: ConnectionTrait>(
    db: &C,
    job_id: Uuid,
    partner_id: Uuid,
    order_id: Uuid,
    offered_at: Option<DateTime<Utc>>,
    answer: Option<(OfferAnswer, DateTime<Utc>)>,
) -> Result<(), StoreError> {
    let existing = report_offers::Entity::find_by_id((job_id, partner_id))
        .one(db)
        .await?;
    let existed = existing.is_some();
    let current = existing.unwrap_or(report_offers::Model {
        job_id,
        partner_id,
        order_id,
        offered_at: None,
        offered_on: None,
        answer: None,
        answered_at: None,
    });
    let offered_at = current.offered_at.or(offered_at);
    let (answer, answered_at) = match (&current.answer, answer) {
        (Some(_), _) | (None, None) => (current.answer.clone(), current.answered_at),
        (None, Some((answer, at))) => (Some(answer.as_str().to_owned()), Some(at)),
    };
    let next = report_offers::Model {
        offered_at,
        offered_on: offered_at.map(|at| day_key(at.date_naive())),
        answer,
        answered_at,
        ..current
    };
    let row = next.into_active_model().reset_all();
    if existed {
        row.update(db).await?;
    } else {
        row.insert(db).await?;
    }
    Ok(())
}
