//! The problems the portal's handlers answer besides the shell's, for their OpenAPI
//! declarations: each status once, with the codes a client can branch on. A partner's
//! route answers another partner's job, webhook or delivery exactly like an unknown id.

use platform::error::Problem;

/// A partner's route: the token is checked, then the portal user it names (if it names one)
/// against the portal's users.
#[derive(utoipa::IntoResponses)]
pub enum PartnerAuthProblems {
    /// No, an invalid, an expired or a revoked bearer token (`missing_token`,
    /// `invalid_token`, `expired_token`, `token_revoked`), or the token names a portal user
    /// who is disabled or belongs to another partner (`user_disabled`).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token's role may not use this route (`forbidden`).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

#[derive(utoipa::IntoResponses)]
pub enum JobNotFound {
    /// No job with this id, or (partner tokens) not one the caller holds (`job_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

#[derive(utoipa::IntoResponses)]
pub enum WebhookNotFound {
    /// No webhook with this id, a removed one, or another partner's (`webhook_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

#[derive(utoipa::IntoResponses)]
pub enum DeliveryNotFound {
    /// No webhook delivery with this id, or (partner tokens) another partner's
    /// (`delivery_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

#[derive(utoipa::IntoResponses)]
pub enum UserNotFound {
    /// No partner user with this id (`user_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// A partner's report on its job, recorded under the order's lease.
#[derive(utoipa::IntoResponses)]
pub enum JobActionAnswers {
    /// Not possible for the job's kind in its current status (`illegal_transition`, with
    /// `current_status` and `action`), or the job was changed at the same time
    /// (`concurrent_update`); read it again.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// The order's sequencer is unavailable; retry shortly (`coordinator_unavailable`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// Creating a partner user.
#[derive(utoipa::IntoResponses)]
pub enum UserCreateConflicts {
    /// A user with this email address exists already (`email_taken`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// Issuing a token.
#[derive(utoipa::IntoResponses)]
pub enum TokenConflicts {
    /// The user is disabled: enable it first (`user_inactive`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// Registering a webhook: its body has no rule but the URL's, which has a code of its own.
#[derive(utoipa::IntoResponses)]
pub enum WebhookUrlProblems {
    /// Wrong types or fields (`invalid_body`), or a URL the portal will not call
    /// (`webhook_url_refused`, with a `reason`: `invalid_url`, `unsupported_scheme`,
    /// `https_required`, `credentials_in_url`, `too_long`, `private_target`).
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
}
