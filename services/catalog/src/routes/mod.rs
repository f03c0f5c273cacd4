//! HTTP handlers: parse and check the request, call the store, shape the answer. Public
//! browse is cacheable (ETag, Cache-Control, Redis); admin writes invalidate that cache.

mod admin;
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
use crate::store::{CatalogRepository, ModelFilter, PageRequest};

pub const DEFAULT_PER_PAGE: u64 = 20;
pub const MAX_PER_PAGE: u64 = 100;
/// Deep pages of a catalog this size are a scraper, not a shopper; bounding the offset keeps
/// the query cheap.
pub const MAX_PAGE: u64 = 10_000;
pub const MAX_SEARCH_CHARS: usize = 100;

pub struct CatalogState {
    pub store: Arc<dyn CatalogRepository>,
    pub cache: ResponseCache,
    pub http_max_age_seconds: u32,
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(devices::list_devices)
        .service(devices::get_device)
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 10000, default = 1)]
    pub page: Option<u64>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

impl PageQuery {
    pub fn validated(&self) -> Result<PageRequest, CatalogError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(CatalogError::InvalidQuery(format!(
                "page must be between 1 and {MAX_PAGE}"
            )));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(CatalogError::InvalidQuery(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        Ok(PageRequest { page, per_page })
    }
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
