//! The seed catalog: real devices with realistic INR trade-in prices, loaded by `catalog
//! seed` and by the dev run. Loading is idempotent: ids derive from brand and name, and
//! existing models and questionnaires are left as they are, so re-seeding never undoes an
//! admin's edits.

use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{Category, Deduction, ModelDraft, QuestionDraft, Questionnaire, VariantDraft};
use crate::store::{CatalogRepository, StoreError};

const SEED: &str = include_str!("../seed/catalog.json");
const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x3b0f_5d1a_7c2e_4e8f_a1b2_c3d4_e5f6_0718);

#[derive(Deserialize)]
struct SeedFile {
    currency: String,
    questionnaires: std::collections::BTreeMap<Category, Vec<SeedQuestion>>,
    models: Vec<SeedModel>,
}

#[derive(Deserialize)]
struct SeedQuestion {
    key: String,
    text: String,
    options: Vec<SeedOption>,
}

#[derive(Deserialize)]
struct SeedOption {
    key: String,
    label: String,
    deduction: Deduction,
}

#[derive(Deserialize)]
struct SeedModel {
    brand: String,
    name: String,
    category: Category,
    release_year: i32,
    variants: Vec<SeedVariant>,
}

#[derive(Deserialize)]
struct SeedVariant {
    name: String,
    base_price_minor: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed file is not valid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub models_created: usize,
    pub questionnaires_created: usize,
}

/// The stable id of a seeded model.
pub fn seed_model_id(brand: &str, name: &str) -> Uuid {
    Uuid::new_v5(
        &SEED_NAMESPACE,
        format!("{}/{}", brand.to_lowercase(), name.to_lowercase()).as_bytes(),
    )
}

pub async fn load(store: &dyn CatalogRepository) -> Result<SeedReport, SeedError> {
    let seed: SeedFile =
        serde_json::from_str(SEED).map_err(|error| SeedError::Invalid(error.to_string()))?;
    let mut report = SeedReport::default();
    for (category, questions) in seed.questionnaires {
        if !store.questionnaire(category).await?.questions.is_empty() {
            continue;
        }
        let drafts = questions
            .into_iter()
            .map(|question| QuestionDraft {
                key: question.key,
                text: question.text,
                options: question
                    .options
                    .into_iter()
                    .map(|option| (option.key, option.label, option.deduction))
                    .collect(),
            })
            .collect();
        let questionnaire = Questionnaire::parse(category, drafts)
            .map_err(|violations| SeedError::Invalid(format!("{category:?}: {violations}")))?;
        store.replace_questionnaire(questionnaire).await?;
        report.questionnaires_created += 1;
    }
    let current_year = chrono::Datelike::year(&chrono::Utc::now());
    for model in seed.models {
        let id = seed_model_id(&model.brand, &model.name);
        if store.model(id).await?.is_some() {
            continue;
        }
        let variants = model
            .variants
            .iter()
            .map(|variant| {
                VariantDraft::parse(
                    "variants.",
                    &variant.name,
                    variant.base_price_minor,
                    &seed.currency,
                )
            })
            .collect();
        let draft = ModelDraft::parse(
            &model.brand,
            &model.name,
            model.category,
            model.release_year,
            variants,
            current_year,
        )
        .map_err(|violations| SeedError::Invalid(format!("{}: {violations}", model.name)))?;
        match store.create_model(id, draft).await {
            Ok(_) => report.models_created += 1,
            // Another instance seeding at the same time got there first.
            Err(StoreError::DuplicateModel { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(report)
}
