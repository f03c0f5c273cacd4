//! Every way a catalog request can fail, and the one place each maps to a problem `code`.

use actix_web::http::StatusCode;
use platform::error::{ErrorKind, kinds};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::domain::Violations;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("device model {0} does not exist")]
    ModelNotFound(Uuid),
    #[error("variant {0} does not exist")]
    VariantNotFound(Uuid),
    #[error("{0}")]
    Validation(Violations),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("a device model named `{brand} {name}` already exists")]
    DuplicateModel { brand: String, name: String },
    #[error("the model already has a variant named `{name}`")]
    DuplicateVariant { name: String },
    #[error("device model {0} is retired and can no longer be changed")]
    ModelRetired(Uuid),
    #[error("device model {0} was changed by another request at the same time; retry")]
    ConcurrentUpdate(Uuid),
    #[error("another write to the catalog was in progress; retry")]
    WriteConflict,
    #[error("the catalog store failed: {0}")]
    Storage(#[source] StoreError),
}

impl From<StoreError> for CatalogError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::ModelNotFound(id) => Self::ModelNotFound(id),
            StoreError::VariantNotFound(id) => Self::VariantNotFound(id),
            StoreError::DuplicateModel { brand, name } => Self::DuplicateModel { brand, name },
            StoreError::DuplicateVariant { name, .. } => Self::DuplicateVariant { name },
            StoreError::ModelRetired(id) => Self::ModelRetired(id),
            StoreError::ConcurrentUpdate(id) => Self::ConcurrentUpdate(id),
            StoreError::WriteConflict => Self::WriteConflict,
            other => Self::Storage(other),
        }
    }
}

platform::problem_code! {
    CatalogError;
    kind {
        Self::ModelNotFound(_) => ErrorKind::new(
            StatusCode::NOT_FOUND,
            "device_not_found",
            "No such device model",
        ),
        Self::VariantNotFound(_) => ErrorKind::new(
            StatusCode::NOT_FOUND,
            "variant_not_found",
            "No such variant",
        ),
        Self::DuplicateModel { .. } => ErrorKind::new(
            StatusCode::CONFLICT,
            "device_already_exists",
            "A device model with this brand and name exists",
        ),
        Self::DuplicateVariant { .. } => ErrorKind::new(
            StatusCode::CONFLICT,
            "variant_already_exists",
            "The model already has a variant with this name",
        ),
        Self::ModelRetired(_) => ErrorKind::new(
            StatusCode::CONFLICT,
            "device_retired",
            "The device model is retired",
        ),
        Self::ConcurrentUpdate(_) | Self::WriteConflict => kinds::CONCURRENT_UPDATE,
    }

    fn own_extensions(&self) -> Map<String, Value> {
        match self {
            Self::ModelRetired(_) => Map::from_iter([("current_status".into(), "retired".into())]),
            _ => Map::new(),
        }
    }
}
