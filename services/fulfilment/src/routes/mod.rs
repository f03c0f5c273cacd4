//! The back office's view of fulfilment: partners (admin writes) and jobs. A partner's token
//! may read its own partner record and the jobs it holds through the same routes; anything
//! else is "not found", so ids cannot be probed.
//!
//! `partners.rs` and `jobs.rs` hold the handlers of each resource, `dto.rs` their JSON
//! shapes; this module the state, the route table and what the handlers share.

pub mod answers;
pub mod dto;
mod jobs;
pub mod partners;

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::pagination::{PageQuery, PageRequest};
use platform::sequencer::Sequencer;
use platform::service::AdminRoutes;
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::error::FulfilmentError;
use crate::workers::PartnersChanged;

pub struct FulfilmentState {
    pub db: sea_orm::DatabaseConnection,
    /// Admin changes to a job run under its order's lease, like the consumer's.
    pub sequencer: Arc<dyn Sequencer>,
    /// Wakes the reassigner: a partner change may place unassigned jobs.
    pub partners_changed: PartnersChanged,
}

const ADMIN: &[Role] = &[Role::Admin];
pub(crate) const READERS: &[Role] = &[Role::Admin, Role::Partner];

/// `admin`: the admin scope the service builder prepared (dead-letter routes inside).
pub fn configure(cfg: &mut ServiceConfig, admin: &AdminRoutes) {
    let jobs_scope = admin.scope();
    cfg.service(partners::create_partner)
        .service(partners::list_partners)
        .service(partners::get_partner)
        .service(partners::update_partner)
        .service(
            jobs_scope
                .service(jobs::list_jobs)
                .service(jobs::get_job)
                .service(jobs::get_job_history)
                .service(jobs::assign_job)
                .service(jobs::requote_job),
        );
}

fn private_json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn page(query: &PageQuery) -> Result<PageRequest, FulfilmentError> {
    query.validated().map_err(FulfilmentError::InvalidQuery)
}

/// The partner a partner token speaks for (`None` for admins).
fn scope_of(principal: &Principal) -> Result<Option<Uuid>, ApiError> {
    principal.require(READERS)?;
    Ok(match principal.role {
        Role::Partner => Some(principal.partner_id.unwrap_or_else(Uuid::nil)),
        _ => None,
    })
}
