//! Every way a reporting request can fail, and the one place each maps to a problem `code`.

use platform::validation::Violations;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReportingError {
    #[error("{0}")]
    Validation(Violations),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("the reporting store failed: {0}")]
    Storage(#[source] StoreError),
}

impl From<StoreError> for ReportingError {
    fn from(error: StoreError) -> Self {
        Self::Storage(error)
    }
}

impl From<crate::domain::RangeRefused> for ReportingError {
    fn from(refused: crate::domain::RangeRefused) -> Self {
        Self::InvalidQuery(refused.to_string())
    }
}

platform::problem_code! {
    ReportingError;
    kind {}
}
