//! The catalog over HTTP: the fallback for a variant the local read model has not seen yet
//! (the quote service started after the event, or the event is still on its way). One
//! call, `GET /v1/devices/variants/{id}`, answers the model (with status and version) and
//! the category's questionnaire. The platform's service client brings the timeout, a few
//! retries with backoff and the circuit breaker; when it still fails the caller answers
//! 503, never a guessed price.

use std::time::Duration;

use platform::service_client::{CallError, ServiceClient, ServiceClientConfig};
use reqwest::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use crate::clock;
use crate::configuration::QuoteSettings;
use crate::domain::{CatalogModel, CatalogVariant, Category, Money, Question, Questionnaire};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CatalogUnavailable(pub String);

#[derive(Clone)]
pub struct CatalogClient(ServiceClient);

/// The catalog's `VariantDevice` answer; unknown fields are ignored (tolerant reader).
#[derive(Debug, Deserialize)]
struct VariantDevice {
    model: ModelBody,
    questionnaire: QuestionnaireBody,
}

#[derive(Debug, Deserialize)]
struct ModelBody {
    id: Uuid,
    brand: String,
    name: String,
    category: String,
    status: String,
    version: i64,
    variants: Vec<VariantBody>,
}

#[derive(Debug, Deserialize)]
struct VariantBody {
    id: Uuid,
    name: String,
    base_price: Money,
}

#[derive(Debug, Deserialize)]
struct QuestionnaireBody {
    questions: Vec<Question>,
}

impl CatalogClient {
    pub fn new(settings: &QuoteSettings) -> Result<Self, reqwest::Error> {
        ServiceClient::new(ServiceClientConfig {
            callee: "catalog",
            base_url: settings.catalog_url.clone(),
            timeout: Duration::from_millis(settings.catalog_timeout_ms),
            // The device reads are public.
            credentials: None,
            caller: "quote-service",
            // A shopper is waiting for the quote: a few quick tries, then a 503.
            attempts: settings.catalog_retries + 1,
            max_pause: Duration::from_secs(2),
        })
        .map(Self)
    }

    /// The model that has `variant_id` and its category's questionnaire; `None` if the
    /// catalog does not know the variant.
    pub async fn variant_device(
        &self,
        variant_id: Uuid,
    ) -> Result<Option<(CatalogModel, Questionnaire)>, CatalogUnavailable> {
        let path = format!("/v1/devices/variants/{variant_id}");
        match self.0.get::<VariantDevice>(&path).await {
            Ok(body) => into_snapshot(body)
                .map(Some)
                .map_err(|reason| CatalogUnavailable(format!("GET {path}: {reason}"))),
            Err(CallError::Refused { refusal, .. }) if refusal.status == StatusCode::NOT_FOUND => {
                Ok(None)
            }
            Err(error) => Err(CatalogUnavailable(error.to_string())),
        }
    }
}

fn into_snapshot(body: VariantDevice) -> Result<(CatalogModel, Questionnaire), String> {
    let category = Category::parse(&body.model.category)
        .ok_or_else(|| format!("unknown category `{}`", body.model.category))?;
    let model = CatalogModel {
        id: body.model.id,
        brand: body.model.brand,
        name: body.model.name,
        category,
        retired: body.model.status == "retired",
        version: body.model.version,
        variants: body
            .model
            .variants
            .into_iter()
            .map(|variant| CatalogVariant {
                id: variant.id,
                name: variant.name,
                base_price: variant.base_price,
            })
            .collect(),
    };
    let questionnaire = Questionnaire {
        category,
        questions: body.questionnaire.questions,
        as_of: clock::now(),
    };
    Ok((model, questionnaire))
}
