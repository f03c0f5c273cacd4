//! Every way a quote request can fail, and the one place each maps to a problem `code`.
//! The lock codes (`quote_not_found`, `quote_expired`, `quote_already_used`) are the
//! contract the order service branches on: never rename them.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::error::{ErrorKind, kinds};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::catalog_client::CatalogUnavailable;
use crate::domain::Violations;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum QuoteError {
    #[error("quote {0} does not exist")]
    QuoteNotFound(Uuid),
    #[error("quote {id} expired at {expires_at}")]
    QuoteExpired { id: Uuid, expires_at: DateTime<Utc> },
    #[error("quote {0} already backs another order")]
    QuoteAlreadyUsed(Uuid),
    #[error("variant {0} does not exist")]
    VariantNotFound(Uuid),
    #[error("device model {0} is retired: it is no longer bought")]
    DeviceRetired(Uuid),
    #[error("pricing adjustment {0} does not exist")]
    AdjustmentNotFound(Uuid),
    #[error("{0}")]
    Validation(Violations),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("the catalog is unavailable: {0}")]
    CatalogUnavailable(#[from] CatalogUnavailable),
    #[error("another write was in progress; retry")]
    WriteConflict,
    #[error("the quote store failed: {0}")]
    Storage(#[source] StoreError),
}

impl From<StoreError> for QuoteError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::WriteConflict => Self::WriteConflict,
            other => Self::Storage(other),
        }
    }
}

platform::problem_code! {
    QuoteError;
    kind {
        Self::QuoteNotFound(_) => {
            ErrorKind::new(StatusCode::NOT_FOUND, "quote_not_found", "No such quote")
        }
        Self::QuoteExpired { .. } => {
            ErrorKind::new(StatusCode::GONE, "quote_expired", "The quote has expired")
        }
        Self::QuoteAlreadyUsed(_) => ErrorKind::new(
            StatusCode::CONFLICT,
            "quote_already_used",
            "The quote already backs another order",
        ),
        Self::VariantNotFound(_) => ErrorKind::new(
            StatusCode::NOT_FOUND,
            "variant_not_found",
            "No such variant",
        ),
        Self::DeviceRetired(_) => ErrorKind::new(
            StatusCode::CONFLICT,
            "device_retired",
            "The device model is retired and cannot be quoted",
        ),
        Self::AdjustmentNotFound(_) => ErrorKind::new(
            StatusCode::NOT_FOUND,
            "adjustment_not_found",
            "No such pricing adjustment",
        ),
        Self::CatalogUnavailable(_) => ErrorKind::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "catalog_unavailable",
            "The catalog could not be reached to price this device; retry later",
        ),
        Self::WriteConflict => kinds::CONCURRENT_UPDATE,
    }

    fn own_extensions(&self) -> Map<String, Value> {
        match self {
            Self::QuoteExpired { expires_at, .. } => {
                Map::from_iter([("expires_at".into(), expires_at.to_rfc3339().into())])
            }
            Self::DeviceRetired(_) => Map::from_iter([("current_status".into(), "retired".into())]),
            _ => Map::new(),
        }
    }
}
