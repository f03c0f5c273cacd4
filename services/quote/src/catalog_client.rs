//! The catalog over HTTP: the fallback for a variant the local read model has not seen yet
//! (the quote service started after the event, or the event is still on its way). One
//! call, `GET /v1/devices/variants/{id}`, answers the model (with status and version) and
//! the category's questionnaire. Timeouts and a few retries with exponential backoff and
//! jitter; when it still fails the caller answers 503, never a guessed price.

use std::time::Duration;

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
pub struct CatalogClient {
    http: reqwest::Client,
    base_url: String,
    retries: u32,
}

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

/// What one attempt came to.
enum Attempt {
    Found(Box<(CatalogModel, Questionnaire)>),
    Unknown,
    /// Worth another try: the catalog is down, slow or overloaded.
    Retry(String),
    /// No retry will help (an unexpected answer).
    GiveUp(String),
}

impl CatalogClient {
    pub fn new(settings: &QuoteSettings) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_millis(settings.catalog_timeout_ms);
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .build()?,
            base_url: settings.catalog_url.trim_end_matches('/').to_owned(),
            retries: settings.catalog_retries,
        })
    }

    /// The model that has `variant_id` and its category's questionnaire; `None` if the
    /// catalog does not know the variant.
    pub async fn variant_device(
        &self,
        variant_id: Uuid,
    ) -> Result<Option<(CatalogModel, Questionnaire)>, CatalogUnavailable> {
        let mut backoff = platform::retry::Backoff::up_to(Duration::from_secs(2));
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(variant_id).await {
                Attempt::Found(found) => return Ok(Some(*found)),
                Attempt::Unknown => return Ok(None),
                Attempt::GiveUp(reason) => return Err(CatalogUnavailable(reason)),
                Attempt::Retry(reason) if attempt > self.retries => {
                    return Err(CatalogUnavailable(format!(
                        "{reason} (after {attempt} attempts)"
                    )));
                }
                Attempt::Retry(reason) => {
                    let pause = backoff.next_delay();
                    tracing::warn!(%variant_id, %reason, attempt, retry_in = ?pause, "catalog lookup failed; retrying");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    async fn attempt(&self, variant_id: Uuid) -> Attempt {
        let url = format!("{}/v1/devices/variants/{variant_id}", self.base_url);
        let response = match self.http.get(&url).send().await {
            Ok(response) => response,
            Err(error) => return Attempt::Retry(format!("GET {url}: {error}")),
        };
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Attempt::Unknown;
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Attempt::Retry(format!("GET {url} answered {status}"));
        }
        if !status.is_success() {
            return Attempt::GiveUp(format!("GET {url} answered {status}"));
        }
        let body: VariantDevice = match response.json().await {
            Ok(body) => body,
            Err(error) if error.is_timeout() => {
                return Attempt::Retry(format!("GET {url}: {error}"));
            }
            Err(error) => return Attempt::GiveUp(format!("GET {url}: unexpected body: {error}")),
        };
        match into_snapshot(body) {
            Ok(snapshot) => Attempt::Found(Box::new(snapshot)),
            Err(reason) => Attempt::GiveUp(format!("GET {url}: {reason}")),
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
