//! The `catalog.events` consumer's handlers: they keep the local read model of the catalog
//! (models, variants, base prices, questionnaires) current, inside the transaction in which
//! the consumer runtime records the event, so each event has its effect exactly once.
//!
//! Model events arrive in order of the model's version (`aggregate_seq`); every write is
//! also "newer wins", so a snapshot the HTTP fallback stored earlier is never overwritten
//! by an older event. Questionnaire events are whole snapshots with seq 0: the newest by
//! `occurred_at` wins.

use async_trait::async_trait;
use events::catalog::{
    ModelPublished, ModelRetired, QuestionnaireReplaced, VariantPriceChanged, VariantRemoved,
    deduction,
};
use platform::consumer::{Handle, HandlerError, Handlers, IncomingEvent};
use sea_orm::{DatabaseTransaction, DbErr};
use uuid::Uuid;

use crate::domain::{
    AnswerOption, CatalogModel, CatalogVariant, Category, Currency, Deduction, Money, Question,
    Questionnaire,
};
use crate::store::read_model;

/// The consumer group of the quote service on `catalog.events`.
pub const CONSUMER_GROUP: &str = "quote";

/// Applies every catalog event type the quote service cares about.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogEvents;

pub fn handlers() -> Handlers {
    Handlers::new()
        .on::<ModelPublished, _>(CatalogEvents)
        .on::<VariantPriceChanged, _>(CatalogEvents)
        .on::<VariantRemoved, _>(CatalogEvents)
        .on::<ModelRetired, _>(CatalogEvents)
        .on::<QuestionnaireReplaced, _>(CatalogEvents)
}

/// Database trouble is infrastructure, not a poison event: retry without limit.
fn unavailable(error: DbErr) -> HandlerError {
    HandlerError::Unavailable(error.to_string())
}

fn uuid(field: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value)
        .map_err(|_| HandlerError::Permanent(format!("{field} `{value}` is not a UUID")))
}

fn category(value: &str) -> Result<Category, HandlerError> {
    Category::parse(value)
        .ok_or_else(|| HandlerError::Permanent(format!("unknown category `{value}`")))
}

fn version(incoming: &IncomingEvent) -> i64 {
    i64::try_from(incoming.envelope.aggregate_seq).unwrap_or(i64::MAX)
}

fn variant(event: Option<events::catalog::Variant>) -> Result<CatalogVariant, HandlerError> {
    let event = event.ok_or_else(|| HandlerError::Permanent("the variant is missing".into()))?;
    let price = event
        .base_price
        .ok_or_else(|| HandlerError::Permanent("the variant has no base price".into()))?;
    Ok(CatalogVariant {
        id: uuid("variant_id", &event.variant_id)?,
        name: event.name,
        base_price: Money {
            amount_minor: price.amount_minor,
            currency: Currency::parse(&price.currency).ok_or_else(|| {
                HandlerError::Permanent(format!("the variant has currency {}", price.currency))
            })?,
        },
    })
}

#[async_trait]
impl Handle<ModelPublished> for CatalogEvents {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: ModelPublished,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let snapshot = CatalogModel {
            id: uuid("model_id", &event.model_id)?,
            brand: event.brand,
            name: event.name,
            category: category(&event.category)?,
            // The catalog refuses changes to a retired model: a publication means active.
            retired: false,
            version: version(incoming),
            variants: event
                .variants
                .into_iter()
                .map(|one| variant(Some(one)))
                .collect::<Result<_, _>>()?,
        };
        read_model::upsert_model(txn, &snapshot)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl Handle<VariantPriceChanged> for CatalogEvents {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: VariantPriceChanged,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let model_id = uuid("model_id", &event.model_id)?;
        let variant = variant(event.variant)?;
        read_model::upsert_variant(txn, model_id, version(incoming), &variant)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl Handle<VariantRemoved> for CatalogEvents {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: VariantRemoved,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let model_id = uuid("model_id", &event.model_id)?;
        let variant_id = uuid("variant_id", &event.variant_id)?;
        read_model::remove_variant(txn, model_id, version(incoming), variant_id)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl Handle<ModelRetired> for CatalogEvents {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: ModelRetired,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let model_id = uuid("model_id", &event.model_id)?;
        read_model::retire_model(txn, model_id, version(incoming))
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn deduction(event: Option<events::catalog::Deduction>) -> Result<Deduction, HandlerError> {
    match event.and_then(|deduction| deduction.kind) {
        Some(deduction::Kind::PercentageBasisPoints(basis_points)) => {
            Ok(Deduction::Percentage { basis_points })
        }
        Some(deduction::Kind::AbsoluteAmountMinor(amount_minor)) => {
            Ok(Deduction::Absolute { amount_minor })
        }
        None => Err(HandlerError::Permanent(
            "an answer option has no deduction".into(),
        )),
    }
}

#[async_trait]
impl Handle<QuestionnaireReplaced> for CatalogEvents {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: QuestionnaireReplaced,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let as_of = incoming.envelope.occurred_at().ok_or_else(|| {
            HandlerError::Permanent("a questionnaire snapshot without occurred_at".into())
        })?;
        let questions = event
            .questions
            .into_iter()
            .map(|question| {
                Ok(Question {
                    id: uuid("question_id", &question.question_id)?,
                    key: question.key,
                    text: question.text,
                    options: question
                        .options
                        .into_iter()
                        .map(|option| {
                            Ok(AnswerOption {
                                id: uuid("option_id", &option.option_id)?,
                                key: option.key,
                                label: option.label,
                                deduction: deduction(option.deduction)?,
                            })
                        })
                        .collect::<Result<_, HandlerError>>()?,
                })
            })
            .collect::<Result<_, HandlerError>>()?;
        let snapshot = Questionnaire {
            category: category(&event.category)?,
            questions,
            as_of,
        };
        read_model::upsert_questionnaire(txn, &snapshot)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
