//! A job as the portal keeps it, its history, and what fulfilment's changes and the
//! partner's reports do to it. The store persists what [`PortalJob::after_fulfilment`] and
//! [`PortalJob::after_report`] decide; nothing else changes a job's status or holder.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Action, FulfilmentChange, JobKind, JobState, JobStatus, Notice, apply_fulfilment};

/// A job of fulfilment's as the portal's read model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalJob {
    pub id: Uuid,
    pub order_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    /// The partner holding the job, if any.
    pub partner_id: Option<Uuid>,
    pub pincode: String,
    pub address: String,
    pub slot_date: String,
    pub slot_window: String,
    pub variant_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The version the job was read at; the store writes a change only over that version.
    pub version: i64,
}

/// What fulfilment's `JobCreated` tells the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub id: Uuid,
    pub order_id: Uuid,
    pub kind: JobKind,
    pub pincode: String,
    pub address: String,
    pub slot_date: String,
    pub slot_window: String,
    pub variant_id: String,
}

platform::named_enum! {
    /// Who moved a job: fulfilment (its events) or the partner (its reports).
    #[strum(serialize_all = "snake_case")]
    pub enum Source {
        Fulfilment,
        Partner,
    }
}

/// One change of a job, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: Uuid,
    pub job_id: Uuid,
    pub status: JobStatus,
    pub partner_id: Option<Uuid>,
    pub source: Source,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Why a partner's report does not apply to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportRefused {
    /// Not this partner's job (another partner's, or nobody's).
    NotHeld,
    /// The action is not one the job's kind and status allow.
    Illegal { current: JobStatus, action: Action },
}

impl PortalJob {
    /// A job fulfilment has just created: in nobody's hands yet, at version 0.
    pub fn created(job: NewJob, now: DateTime<Utc>) -> Self {
        Self {
            id: job.id,
            order_id: job.order_id,
            kind: job.kind,
            status: JobStatus::Unassigned,
            partner_id: None,
            pincode: job.pincode,
            address: job.address,
            slot_date: job.slot_date,
            slot_window: job.slot_window,
            variant_id: job.variant_id,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// Who holds the job and how far it is.
    pub fn state(&self) -> JobState {
        JobState {
            status: self.status,
            partner: self.partner_id,
        }
    }

    /// Whether `partner_id` holds the job.
    pub fn is_held_by(&self, partner_id: Uuid) -> bool {
        self.partner_id == Some(partner_id)
    }

    /// Whether the job may be shown to `partner_id` (`None`: an admin, who sees every job).
    pub fn is_visible_to(&self, partner_id: Option<Uuid>) -> bool {
        partner_id.is_none_or(|own| self.is_held_by(own))
    }

    /// The job after one of fulfilment's changes (the precedence rule,
    /// [`apply_fulfilment`]), with whom to tell; `None` when the change is behind the job.
    pub fn after_fulfilment(&self, change: FulfilmentChange) -> Option<(Self, Vec<Notice>)> {
        let applied = apply_fulfilment(self.state(), change)?;
        let mut next = self.clone();
        next.status = applied.state.status;
        next.partner_id = applied.state.partner;
        Some((next, applied.notices))
    }

    /// The job after `partner_id` reports `action` on it: the partner's own report moves
    /// it at once, if it holds the job and the action fits the job's kind and status.
    pub fn after_report(&self, partner_id: Uuid, action: Action) -> Result<Self, ReportRefused> {
        if !self.is_held_by(partner_id) {
            return Err(ReportRefused::NotHeld);
        }
        let status = action
            .apply(self.kind, self.status)
            .ok_or(ReportRefused::Illegal {
                current: self.status,
                action,
            })?;
        let mut next = self.clone();
        next.status = status;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    fn job(kind: JobKind, status: JobStatus, partner_id: Option<Uuid>) -> PortalJob {
        let mut job = PortalJob::created(
            NewJob {
                id: Uuid::from_u128(10),
                order_id: Uuid::from_u128(20),
                kind,
                pincode: "560001".into(),
                address: "12 MG Road".into(),
                slot_date: "2026-12-01".into(),
                slot_window: "morning".into(),
                variant_id: "variant".into(),
            },
            Utc::now(),
        );
        job.status = status;
        job.partner_id = partner_id;
        job
    }

    #[test]
    fn a_created_job_is_unassigned_at_version_zero() {
        let now = Utc::now();
        let created = PortalJob::created(
            NewJob {
                id: Uuid::from_u128(1),
                order_id: Uuid::from_u128(2),
                kind: JobKind::Return,
                pincode: "560001".into(),
                address: "12 MG Road".into(),
                slot_date: "2026-12-01".into(),
                slot_window: "evening".into(),
                variant_id: "v".into(),
            },
            now,
        );
        assert_eq!(created.status, JobStatus::Unassigned);
        assert_eq!(created.partner_id, None);
        assert_eq!(created.version, 0);
        assert_eq!((created.created_at, created.updated_at), (now, now));
    }

    #[test]
    fn a_report_moves_the_holders_job_at_once() {
        let partner = Uuid::from_u128(1);
        let offered = job(JobKind::Pickup, JobStatus::Offered, Some(partner));
        let accepted = offered.after_report(partner, Action::Accept).unwrap();
        assert_eq!(accepted.status, JobStatus::Accepted);
        assert_eq!(accepted.partner_id, Some(partner));
        assert_eq!(
            accepted.version, offered.version,
            "the store moves the version"
        );
        let picked_up = accepted.after_report(partner, Action::PickedUp).unwrap();
        let delivered = picked_up.after_report(partner, Action::Delivered).unwrap();
        assert_eq!(delivered.status, JobStatus::Completed);
        let declined = offered.after_report(partner, Action::Decline).unwrap();
        assert_eq!(declined.status, JobStatus::Declined);
    }

    #[test]
    fn a_report_on_someone_elses_job_or_out_of_turn_is_refused() {
        let (partner, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let offered = job(JobKind::Pickup, JobStatus::Offered, Some(partner));
        assert_eq!(
            offered.after_report(other, Action::Accept),
            Err(ReportRefused::NotHeld)
        );
        let unassigned = job(JobKind::Pickup, JobStatus::Unassigned, None);
        assert_eq!(
            unassigned.after_report(partner, Action::Accept),
            Err(ReportRefused::NotHeld)
        );
        assert_eq!(
            offered.after_report(partner, Action::Delivered),
            Err(ReportRefused::Illegal {
                current: JobStatus::Offered,
                action: Action::Delivered,
            })
        );
        let inspection = job(JobKind::Inspection, JobStatus::Accepted, Some(partner));
        assert_eq!(
            inspection.after_report(partner, Action::PickedUp),
            Err(ReportRefused::Illegal {
                current: JobStatus::Accepted,
                action: Action::PickedUp,
            })
        );
        assert_eq!(
            inspection
                .after_report(partner, Action::InspectionReport)
                .unwrap()
                .status,
            JobStatus::InspectionReported
        );
    }

    #[test]
    fn fulfilments_changes_go_through_the_precedence_rule() {
        let (first, second) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let picked_up = job(JobKind::Pickup, JobStatus::PickedUp, Some(first));
        assert_eq!(
            picked_up.after_fulfilment(FulfilmentChange::Status(JobStatus::Accepted)),
            None,
            "a late confirmation does not move the job back"
        );
        let (reassigned, notices) = picked_up
            .after_fulfilment(FulfilmentChange::Assigned(second))
            .unwrap();
        assert_eq!(reassigned.status, JobStatus::Offered);
        assert_eq!(reassigned.partner_id, Some(second));
        assert_eq!(reassigned.id, picked_up.id);
        assert_eq!(
            notices,
            [Notice::Withdrawn(first), Notice::Assigned(second)]
        );
        let (unassigned, _) = reassigned
            .after_fulfilment(FulfilmentChange::Unassigned)
            .unwrap();
        assert_eq!(
            unassigned.state(),
            JobState {
                status: JobStatus::Unassigned,
                partner: None,
            }
        );
    }

    #[test]
    fn a_partner_sees_only_the_jobs_it_holds_and_an_admin_sees_all() {
        let (partner, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let held = job(JobKind::Pickup, JobStatus::Accepted, Some(partner));
        assert!(held.is_visible_to(Some(partner)));
        assert!(!held.is_visible_to(Some(other)));
        assert!(held.is_visible_to(None));
        let nobodys = job(JobKind::Pickup, JobStatus::Unassigned, None);
        assert!(!nobodys.is_visible_to(Some(partner)));
        assert!(nobodys.is_visible_to(None));
    }

    #[test]
    fn sources_round_trip_through_their_names() {
        for source in Source::iter() {
            assert_eq!(Source::parse(source.as_str()), Some(source));
        }
        assert_eq!(Source::Fulfilment.as_str(), "fulfilment");
        assert_eq!(Source::Partner.as_str(), "partner");
    }
}
