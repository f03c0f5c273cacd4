//! Every way a portal request can fail, and the one place each maps to a problem `code`.

use actix_web::http::StatusCode;
use platform::error::{ErrorKind, kinds};
use platform::validation::Violations;
use uuid::Uuid;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("job {0} does not exist")]
    JobNotFound(Uuid),
    #[error("user {0} does not exist")]
    UserNotFound(Uuid),
    #[error("webhook {0} does not exist")]
    WebhookNotFound(Uuid),
    #[error("delivery {0} does not exist")]
    DeliveryNotFound(Uuid),
    #[error("cannot {action} a job that is {current}")]
    IllegalTransition {
        current: String,
        action: &'static str,
    },
    #[error("this portal user is disabled or does not belong to the token's partner")]
    UserDisabled,
    #[error("a partner token must name its partner (partner_id)")]
    NoPartner,
    #[error("user {0} is disabled; enable it before issuing tokens")]
    UserInactive(Uuid),
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error("the webhook URL is refused: {0}")]
    UrlRefused(crate::domain::webhook::UrlRefused),
    #[error("{0}")]
    Validation(Violations),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("the job was changed by another request at the same time; retry")]
    Concurrent,
    #[error("jobs cannot be changed right now: {0}")]
    CoordinatorUnavailable(String),
    #[error("the portal store failed: {0}")]
    Storage(#[source] StoreError),
}

impl From<StoreError> for PortalError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Concurrent(_) => Self::Concurrent,
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::NotHeld(id) => Self::JobNotFound(id),
            StoreError::Illegal { current, action } => Self::IllegalTransition {
                current: current.as_str().to_owned(),
                action: action.as_str(),
            },
            other => Self::Storage(other),
        }
    }
}

impl From<sea_orm::DbErr> for PortalError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Storage(error.into())
    }
}

platform::problem_code! {
    PortalError;
    refused_transition: Self::IllegalTransition { current, action } => (current, action);
    kind {
        Self::JobNotFound(_) => {
            ErrorKind::new(StatusCode::NOT_FOUND, "job_not_found", "No such job")
        }
        Self::UserNotFound(_) => {
            ErrorKind::new(StatusCode::NOT_FOUND, "user_not_found", "No such user")
        }
        Self::WebhookNotFound(_) => ErrorKind::new(
            StatusCode::NOT_FOUND,
            "webhook_not_found",
            "No such webhook",
        ),
        Self::DeliveryNotFound(_) => ErrorKind::new(
            StatusCode::NOT_FOUND,
            "delivery_not_found",
            "No such delivery",
        ),
        Self::UserDisabled => ErrorKind::new(
            StatusCode::UNAUTHORIZED,
            "user_disabled",
            "Portal user disabled",
        ),
        Self::NoPartner => ErrorKind::new(
            StatusCode::FORBIDDEN,
            "partner_required",
            "Not a partner token",
        ),
        Self::UserInactive(_) => ErrorKind::new(
            StatusCode::CONFLICT,
            "user_inactive",
            "The user is disabled",
        ),
        Self::EmailTaken => ErrorKind::new(StatusCode::CONFLICT, "email_taken", "Email in use"),
        Self::UrlRefused(_) => ErrorKind::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "webhook_url_refused",
            "The webhook URL cannot be used",
        ),
        Self::Concurrent => kinds::CONCURRENT_UPDATE,
    }

    fn own_extensions(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut extensions = serde_json::Map::new();
        if let Self::UrlRefused(refused) = self {
            extensions.insert("reason".into(), refused.reason().into());
        }
        extensions
    }
}
