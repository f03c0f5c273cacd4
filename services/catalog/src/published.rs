//! What the catalog tells other services on `catalog.events`, built from domain values so
//! the event always matches the state committed with it.

use events::catalog::{
    AnswerOption, Deduction as DeductionEvent, ModelPublished, ModelRetired, Money as MoneyEvent,
    Question, QuestionnaireReplaced, Variant as VariantEvent, VariantPriceChanged, VariantRemoved,
    deduction,
};
use uuid::Uuid;

use crate::domain::{Deduction, DeviceModel, Money, Questionnaire, Variant};

/// The `producer` of every catalog event.
pub const PRODUCER: &str = "catalog";

fn money(money: &Money) -> MoneyEvent {
    MoneyEvent {
        amount_minor: money.amount_minor,
        currency: money.currency.as_str().to_owned(),
    }
}

fn variant(variant: &Variant) -> VariantEvent {
    VariantEvent {
        variant_id: variant.id.to_string(),
        name: variant.name.clone(),
        base_price: Some(money(&variant.base_price)),
    }
}

pub fn model_published(model: &DeviceModel) -> ModelPublished {
    ModelPublished {
        model_id: model.id.to_string(),
        brand: model.brand.clone(),
        name: model.name.clone(),
        category: model.category.as_str().to_owned(),
        release_year: model.release_year,
        variants: model.variants.iter().map(variant).collect(),
    }
}

pub fn variant_price_changed(changed: &Variant) -> VariantPriceChanged {
    VariantPriceChanged {
        model_id: changed.model_id.to_string(),
        variant: Some(variant(changed)),
    }
}

pub fn variant_removed(model_id: Uuid, variant_id: Uuid) -> VariantRemoved {
    VariantRemoved {
        model_id: model_id.to_string(),
        variant_id: variant_id.to_string(),
    }
}

pub fn model_retired(model: &DeviceModel) -> ModelRetired {
    ModelRetired {
        model_id: model.id.to_string(),
    }
}

pub fn questionnaire_replaced(questionnaire: &Questionnaire) -> QuestionnaireReplaced {
    QuestionnaireReplaced {
        category: questionnaire.category.as_str().to_owned(),
        questions: questionnaire
            .questions
            .iter()
            .map(|question| Question {
                question_id: question.id.to_string(),
                key: question.key.clone(),
                text: question.text.clone(),
                options: question
                    .options
                    .iter()
                    .map(|option| AnswerOption {
                        option_id: option.id.to_string(),
                        key: option.key.clone(),
                        label: option.label.clone(),
                        deduction: Some(DeductionEvent {
                            kind: Some(match option.deduction {
                                Deduction::Percentage { basis_points } => {
                                    deduction::Kind::PercentageBasisPoints(basis_points)
                                }
                                Deduction::Absolute { amount_minor } => {
                                    deduction::Kind::AbsoluteAmountMinor(amount_minor)
                                }
                            }),
                        }),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The key of a category's questionnaire events.
pub fn questionnaire_key(questionnaire: &Questionnaire) -> String {
    format!("questionnaire:{}", questionnaire.category.as_str())
}
