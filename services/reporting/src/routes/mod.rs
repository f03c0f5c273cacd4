//! Reporting's HTTP surface: admins' reports under `/v1/admin/reports`, each as JSON and
//! as CSV (`.csv`), over a range of UTC days. Reports are answered from the projection
//! alone, never from another service.

pub mod dto;
mod reports;

use platform::error::Problem;
use platform::service::AdminRoutes;
use sea_orm::DatabaseConnection;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::configuration::ReportingSettings;

pub struct ReportingState {
    pub db: DatabaseConnection,
    pub settings: ReportingSettings,
}

/// `admin`: the admin scope the service builder prepared (dead-letter routes inside).
pub fn configure(cfg: &mut ServiceConfig, admin: &AdminRoutes) {
    cfg.service(
        admin
            .scope()
            .service(reports::report_summary)
            .service(reports::report_daily)
            .service(reports::report_daily_csv)
            .service(reports::report_partners)
            .service(reports::report_partners_csv),
    );
}

/// What a report's query can be refused for.
#[derive(utoipa::IntoResponses)]
pub enum RangeProblems {
    /// A date is not `YYYY-MM-DD`, a number is out of its range, `from` is after `to`, or
    /// the range is longer than 366 days (`invalid_query_parameter`).
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
}
