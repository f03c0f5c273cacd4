//! HTTP handlers: parse and check the request, call the store, shape the answer. Public
//! browse is cacheable (ETag, Cache-Control, Redis); admin writes invalidate that cache.

mod admin;
pub mod answers;
mod devices;
pub mod dto;

use std::sync::Arc;

use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::cache::ResponseCache;
use crate::domain::ModelStatus;
use crate::error::CatalogError;
use crate::routes::dto::CategoryDto;
use crate::store::{CatalogRepository, ModelFilter};
pub use platform::pagination::{PageQuery, PageRequest};

pub const MAX_SEARCH_CHARS: usize = 100;

pub struct CatalogState {
    pub store: Arc<dyn CatalogRepository>,
    pub cache: ResponseCache,
    pub http_max_age_seconds: u32,
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(devices::list_devices)
        .service(devices::get_device)
        .service(devices::get_variant_device)
        .service(admin::list_models)
        .service(admin::create_model)
        .service(admin::get_model)
        .service(admin::update_model)
        .service(admin::retire_model)
        .service(admin::add_variant)
        .service(admin::update_variant)
        .service(admin::delete_variant)
        .service(admin::get_questionnaire)
        .service(admin::replace_questionnaire);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseQuery {
    pub category: Option<CategoryDto>,
    /// Exact brand, case-insensitive.
    pub brand: Option<String>,
    /// Text search over brand and model name, case-insensitive.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

impl BrowseQuery {
    /// The store filter for this query; `status: None` means every status (admin only).
    pub fn filter(&self, status: Option<ModelStatus>) -> Result<ModelFilter, CatalogError> {
        let non_empty = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let text = non_empty(&self.q);
        if text
            .as_ref()
            .is_some_and(|text| text.chars().count() > MAX_SEARCH_CHARS)
        {
            return Err(CatalogError::InvalidQuery(format!(
                "q must be at most {MAX_SEARCH_CHARS} characters"
            )));
        }
        Ok(ModelFilter {
            category: self.category.map(Into::into),
            brand: non_empty(&self.brand),
            text,
            status,
        })
    }
}

/// The platform's paging, with its complaint as the catalog's `invalid_query`.
pub(crate) fn page_of(query: &PageQuery) -> Result<PageRequest, CatalogError> {
    query.validated().map_err(CatalogError::InvalidQuery)
}

fn current_year() -> i32 {
    use chrono::Datelike;
    chrono::Utc::now().year()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, platform::ApiError> {
    serde_json::to_vec(value).map_err(|error| {
        tracing::error!(%error, "serialising a response failed");
        platform::ApiError::new(platform::error::kinds::INTERNAL, "Internal error")
    })
}
