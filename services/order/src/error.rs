//! Every way an order request can fail, and the one place each maps to a problem `code`.

use actix_web::http::StatusCode;
use platform::error::{ErrorKind, kinds};
use uuid::Uuid;

use crate::domain::{OrderStatus, Violations};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("order {0} does not exist")]
    OrderNotFound(Uuid),
    #[error("the Idempotency-Key header is required on POST /v1/orders")]
    IdempotencyKeyMissing,
    #[error("the Idempotency-Key header must be 1 to 255 visible ASCII characters")]
    IdempotencyKeyInvalid,
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyKeyReused,
    #[error("{0}")]
    Validation(Violations),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("cannot {step} an order that is {current}")]
    IllegalTransition {
        current: OrderStatus,
        step: &'static str,
    },
    #[error("order {0} was changed by another request at the same time; retry")]
    ConcurrentUpdate(Uuid),
    #[error("orders cannot be changed right now: {0}")]
    CoordinatorUnavailable(String),
    #[error("the order store failed: {0}")]
    Storage(#[source] StoreError),
}

impl From<StoreError> for OrderError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(id) => Self::OrderNotFound(id),
            StoreError::Illegal(illegal) => Self::IllegalTransition {
                current: illegal.current,
                step: illegal.step,
            },
            StoreError::Concurrent(id) => Self::ConcurrentUpdate(id),
            StoreError::KeyReused => Self::IdempotencyKeyReused,
            other => Self::Storage(other),
        }
    }
}

platform::problem_code! {
    OrderError;
    refused_transition: Self::IllegalTransition { current, step } => (current.as_str(), step);
    kind {
        Self::OrderNotFound(_) => {
            ErrorKind::new(StatusCode::NOT_FOUND, "order_not_found", "No such order")
        }
        Self::IdempotencyKeyMissing => ErrorKind::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_missing",
            "Idempotency-Key header required",
        ),
        Self::IdempotencyKeyInvalid => ErrorKind::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_invalid",
            "Malformed Idempotency-Key header",
        ),
        Self::IdempotencyKeyReused => ErrorKind::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency-Key reused with a different request",
        ),
        Self::ConcurrentUpdate(_) => kinds::CONCURRENT_UPDATE,
    }
}
