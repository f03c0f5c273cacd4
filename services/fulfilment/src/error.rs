//! Every way a fulfilment request can fail, and the one place each maps to a problem `code`.

use actix_web::http::StatusCode;
use platform::error::{ErrorKind, kinds};
use platform::validation::Violations;
use uuid::Uuid;

use crate::domain::JobStatus;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FulfilmentError {
    #[error("partner {0} does not exist")]
    PartnerNotFound(Uuid),
    #[error("job {0} does not exist")]
    JobNotFound(Uuid),
    #[error("{0}")]
    Validation(Violations),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("cannot {action} a job that is {current:?}")]
    IllegalTransition {
        current: JobStatus,
        action: &'static str,
    },
    #[error("the order's sequencer is unavailable: {0}")]
    CoordinatorUnavailable(String),
    #[error("the fulfilment store failed: {0}")]
    Storage(#[from] StoreError),
}

impl From<sea_orm::DbErr> for FulfilmentError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Storage(error.into())
    }
}

platform::problem_code! {
    FulfilmentError;
    refused_transition: Self::IllegalTransition { current, action } => (current.as_str(), action);
    kind {
        Self::PartnerNotFound(_) => ErrorKind::new(
            StatusCode::NOT_FOUND,
            "partner_not_found",
            "No such partner",
        ),
        Self::JobNotFound(_) => {
            ErrorKind::new(StatusCode::NOT_FOUND, "job_not_found", "No such job")
        }
        Self::Storage(StoreError::Concurrent(_)) => kinds::CONCURRENT_UPDATE,
    }
}
