//! The portal's HTTP surface: partners' jobs and actions (`jobs`), their webhooks and
//! delivery log (`webhooks`), and the admins' partner users and views of every partner
//! (`admin`); the JSON shapes are in [`dto`]. Handlers see the store's records, never a
//! table. A partner sees only its own objects; another partner's id answers exactly like an
//! unknown one.

mod admin;
pub mod answers;
pub mod dto;
mod jobs;
mod webhooks;

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use platform::ApiError;
use platform::auth::{Authenticator, Principal, Role};
use platform::pagination::{PageQuery, PageRequest};
use platform::sequencer::Sequencer;
use platform::service::AdminRoutes;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::configuration::PortalSettings;
use crate::error::PortalError;
use crate::store;

pub struct PortalState {
    pub db: DatabaseConnection,
    pub sequencer: Arc<dyn Sequencer>,
    pub authenticator: Authenticator,
    pub settings: PortalSettings,
    /// Wakes the webhook deliverer after a redelivery is owed.
    pub deliveries: platform::due_work::Waker,
}

/// `admin`: the admin scope the service builder prepared (dead-letter routes inside).
pub fn configure(cfg: &mut ServiceConfig, admin: &AdminRoutes) {
    let admin_scope = admin.scope();
    cfg.service(jobs::list_jobs)
        .service(jobs::get_job)
        .service(jobs::accept)
        .service(jobs::decline)
        .service(jobs::picked_up)
        .service(jobs::delivered)
        .service(jobs::inspection_report)
        .service(webhooks::list_deliveries)
        .service(webhooks::get_delivery)
        .service(webhooks::redeliver)
        .service(webhooks::create_webhook)
        .service(webhooks::list_webhooks)
        .service(webhooks::delete_webhook)
        .service(webhooks::rotate_secret)
        .service(
            admin_scope
                .service(admin::create_user)
                .service(admin::list_users)
                .service(admin::get_user)
                .service(admin::update_user)
                .service(admin::issue_token)
                .service(admin::list_deliveries)
                .service(admin::get_delivery)
                .service(admin::redeliver)
                .service(admin::list_jobs)
                .service(admin::get_job),
        );
}

fn private_json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn page(page: Option<u64>, per_page: Option<u64>) -> Result<PageRequest, PortalError> {
    PageQuery { page, per_page }
        .validated()
        .map_err(PortalError::InvalidQuery)
}

/// The partner a request acts for. A token naming a portal user counts only while that user
/// is active and belongs to the token's partner, so disabling a user cuts its tokens off.
async fn partner_of(principal: &Principal, state: &PortalState) -> Result<Uuid, ApiError> {
    principal.require(&[Role::Partner])?;
    let partner_id = principal.partner_id.ok_or(PortalError::NoPartner)?;
    if let Ok(user_id) = Uuid::parse_str(&principal.subject) {
        let user = store::user(&state.db, user_id)
            .await
            .map_err(PortalError::from)?;
        if user.is_some_and(|user| !user.may_act_for(partner_id)) {
            return Err(PortalError::UserDisabled.into());
        }
    }
    Ok(partner_id)
}
