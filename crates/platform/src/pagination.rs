//! One way to page every list endpoint: `?page=&per_page=` in, `{items, page, per_page,
//! total, total_pages}` out, with bounds that keep deep pages cheap.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_PER_PAGE: u64 = 20;
pub const MAX_PER_PAGE: u64 = 100;
/// Deep pages of a list this size are a scraper, not a person; bounding the offset keeps
/// the query cheap.
pub const MAX_PAGE: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based.
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.per_page
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
    /// The page asked for, or what is wrong with the query (for a 400 `invalid_query_parameter`).
    pub fn validated(&self) -> Result<PageRequest, String> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(format!("page must be between 1 and {MAX_PAGE}"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(format!("per_page must be between 1 and {MAX_PER_PAGE}"));
        }
        Ok(PageRequest { page, per_page })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub total_pages: u64,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, request: PageRequest, total: u64) -> Self {
        Self {
            items,
            page: request.page,
            per_page: request.per_page,
            total,
            total_pages: total.div_ceil(request.per_page.max(1)),
        }
    }
}
