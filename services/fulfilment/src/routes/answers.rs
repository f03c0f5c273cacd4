//! The problems fulfilment's handlers answer besides the shell's, for their OpenAPI
//! declarations: each status once, with the codes a client can branch on.

use platform::error::Problem;

#[derive(utoipa::IntoResponses)]
pub enum PartnerNotFound {
    /// No partner with this id, or (partner tokens) not the caller (`partner_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

#[derive(utoipa::IntoResponses)]
pub enum JobNotFound {
    /// No job with this id, or (partner tokens) not one the caller holds (`job_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// Changing a partner.
#[derive(utoipa::IntoResponses)]
pub enum PartnerConflicts {
    /// Changed by another request at the same time; read it again and retry
    /// (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// An admin's action on a job, run under its order's lease.
#[derive(utoipa::IntoResponses)]
pub enum JobActionAnswers {
    /// Not possible in the job's current status (`illegal_transition`, with
    /// `current_status` and `action`), or changed at the same time (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// The order's sequencer is unavailable; retry shortly (`coordinator_unavailable`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}
