//! The use cases behind the routes: issue, lock and re-quote a quote. They tie the pure
//! rules in `domain` to the store and the catalog, and are where "read model first, HTTP
//! fallback second, 503 rather than a wrong price" lives.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::catalog_client::CatalogClient;
use crate::clock;
use crate::configuration::QuoteSettings;
use crate::domain::{
    Answer, AnswerChange, AppliedAdjustment, LockDecision, LockedQuote, PriceInput, Priced,
    PricingSource, Questionnaire, Quote, Violations, answer_changes, check_pincode, decide_lock,
    match_answers, price,
};
use crate::error::QuoteError;
use crate::store::QuoteRepository;

pub struct QuoteState {
    pub store: Arc<dyn QuoteRepository>,
    pub catalog: CatalogClient,
    pub settings: QuoteSettings,
}

/// What a shopper asks to be quoted.
#[derive(Debug, Clone)]
pub struct QuoteRequest {
    pub variant_id: Uuid,
    pub answers: Vec<Answer>,
    pub pincode: String,
}

/// A re-quote's answer: the quote, the same variant priced with the observed answers, and
/// which answers changed.
#[derive(Debug, Clone)]
pub struct Requote {
    pub quote: Quote,
    pub revised: Priced,
    pub changes: Vec<AnswerChange>,
}

fn base_label(source: &PricingSource) -> String {
    format!(
        "Base price: {} {} ({})",
        source.model.brand, source.model.name, source.variant.name
    )
}

impl QuoteState {
    /// The variant, its model and questionnaire: from the read model, else from the catalog
    /// over HTTP (and then kept in the read model). Unknown → 404; catalog down → 503.
    pub async fn pricing_source(&self, variant_id: Uuid) -> Result<PricingSource, QuoteError> {
        if let Some(model) = self.store.model_of_variant(variant_id).await?
            && let Some(questionnaire) = self.store.questionnaire(model.category).await?
        {
            return source(model, variant_id, questionnaire);
        }
        let (model, questionnaire) = self
            .catalog
            .variant_device(variant_id)
            .await?
            .ok_or(QuoteError::VariantNotFound(variant_id))?;
        if let Err(error) = self
            .store
            .save_catalog_snapshot(&model, &questionnaire)
            .await
        {
            // The price is still right; the next quote just asks the catalog again.
            tracing::warn!(%error, %variant_id, "keeping the catalog's answer locally failed");
        }
        source(model, variant_id, questionnaire)
    }

    pub async fn issue(
        &self,
        shopper_id: &str,
        request: QuoteRequest,
    ) -> Result<Quote, QuoteError> {
        let mut violations = Violations::default();
        check_pincode(&mut violations, "pincode", &request.pincode);
        let source = self.pricing_source(request.variant_id).await?;
        if source.model.retired {
            return Err(QuoteError::DeviceRetired(source.model.id));
        }
        let answers = match match_answers(&source.questionnaire, &request.answers) {
            Ok(answers) => answers,
            Err(more) => {
                violations.0.extend(more.0);
                Vec::new()
            }
        };
        if !violations.0.is_empty() {
            return Err(violations.into());
        }
        let now = clock::now();
        let adjustments: Vec<AppliedAdjustment> = self
            .store
            .active_adjustments(now)
            .await?
            .into_iter()
            .filter(|adjustment| adjustment.applies_to(&source.model))
            .map(|adjustment| AppliedAdjustment {
                id: adjustment.id,
                label: adjustment.label,
                percent_basis_points: adjustment.percent_basis_points,
            })
            .collect();
        let floor_minor = self.settings.floor_price_minor;
        let priced = price(PriceInput {
            base_price: &source.variant.base_price,
            base_label: &base_label(&source),
            answers: &answers,
            adjustments: &adjustments,
            floor_minor,
        });
        let quote = Quote {
            id: Uuid::now_v7(),
            shopper_id: shopper_id.to_owned(),
            variant_id: source.variant.id,
            model_id: source.model.id,
            category: source.model.category,
            brand: source.model.brand.clone(),
            base_price: source.variant.base_price,
            floor_minor,
            answers,
            adjustments,
            price: priced.price,
            breakdown: priced.breakdown,
            pincode: request.pincode,
            expires_at: now + TimeDelta::hours(i64::from(self.settings.validity_hours)),
            created_at: now,
            lock: None,
            version: 1,
        };
        self.store.insert_quote(&quote).await?;
        tracing::info!(quote_id = %quote.id, price = quote.price.amount_minor, "quote issued");
        Ok(quote)
    }

    /// Validate-and-lock: the order service's one call. See [`decide_lock`].
    pub async fn lock(
        &self,
        id: Uuid,
        order_id: Uuid,
        shopper_id: &str,
        accepted_at: Option<DateTime<Utc>>,
    ) -> Result<(Quote, LockedQuote), QuoteError> {
        // A lost race re-reads the quote: it is then locked, and the decision is final.
        for _ in 0..2 {
            let quote = self
                .store
                .quote(id)
                .await?
                .ok_or(QuoteError::QuoteNotFound(id))?;
            let now = clock::now();
            let accepted_at = accepted_at.map_or(now, |accepted_at| accepted_at.min(now));
            match decide_lock(&quote, order_id, shopper_id, accepted_at) {
                LockDecision::Lock => {
                    let lock = LockedQuote {
                        order_id,
                        locked_at: now,
                    };
                    if self.store.lock_quote(&quote, lock).await? {
                        tracing::info!(quote_id = %id, %order_id, "quote locked");
                        return Ok((quote, lock));
                    }
                }
                LockDecision::AlreadyLockedByThisOrder(lock) => return Ok((quote, lock)),
                LockDecision::NotFound => return Err(QuoteError::QuoteNotFound(id)),
                LockDecision::UsedByAnotherOrder => return Err(QuoteError::QuoteAlreadyUsed(id)),
                LockDecision::Expired => {
                    return Err(QuoteError::QuoteExpired {
                        id,
                        expires_at: quote.expires_at,
                    });
                }
            }
        }
        Err(QuoteError::WriteConflict)
    }

    /// Prices the quoted variant again with the observed answers: the quoted base price,
    /// adjustments and floor, the current questionnaire. Changes nothing.
    pub async fn requote(&self, id: Uuid, observed: &[Answer]) -> Result<Requote, QuoteError> {
        let quote = self
            .store
            .quote(id)
            .await?
            .ok_or(QuoteError::QuoteNotFound(id))?;
        let questionnaire = self.current_questionnaire(&quote).await?;
        let observed = match_answers(&questionnaire, observed)?;
        let base_label = quote
            .breakdown
            .first()
            .map_or_else(|| "Base price".to_owned(), |line| line.label.clone());
        let revised = price(PriceInput {
            base_price: &quote.base_price,
            base_label: &base_label,
            answers: &observed,
            adjustments: &quote.adjustments,
            floor_minor: quote.floor_minor,
        });
        let changes = answer_changes(quote.base_price.amount_minor, &quote.answers, &observed);
        Ok(Requote {
            quote,
            revised,
            changes,
        })
    }

    async fn current_questionnaire(&self, quote: &Quote) -> Result<Questionnaire, QuoteError> {
        if let Some(questionnaire) = self.store.questionnaire(quote.category).await? {
            return Ok(questionnaire);
        }
        match self.catalog.variant_device(quote.variant_id).await? {
            Some((model, questionnaire)) => {
                if let Err(error) = self
                    .store
                    .save_catalog_snapshot(&model, &questionnaire)
                    .await
                {
                    tracing::warn!(%error, "keeping the catalog's answer locally failed");
                }
                Ok(questionnaire)
            }
            None => Err(QuoteError::CatalogUnavailable(
                crate::catalog_client::CatalogUnavailable(format!(
                    "the {} questionnaire is not known here and variant {} is gone from the catalog",
                    quote.category.as_str(),
                    quote.variant_id
                )),
            )),
        }
    }
}

fn source(
    model: crate::domain::CatalogModel,
    variant_id: Uuid,
    questionnaire: Questionnaire,
) -> Result<PricingSource, QuoteError> {
    let variant = model
        .variant(variant_id)
        .cloned()
        .ok_or(QuoteError::VariantNotFound(variant_id))?;
    Ok(PricingSource {
        model,
        variant,
        questionnaire,
    })
}
