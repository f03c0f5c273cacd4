//! Fulfilment's rules without I/O: the records the service works with (a [`Job`] and its
//! history, a [`Partner`], a [`TradeIn`]), which partner gets a job, where a partner's report
//! moves a job, and what every other change does to one. Kept pure so all of it is tested
//! without a database.

pub mod assignment;
pub mod job;
pub mod partner;
pub mod trade_in;

pub use assignment::{Candidate, Ineligible, choose_partner, ineligibility};
pub use job::{Job, JobHistoryEntry, NewJob, Requote};
pub use partner::{NewPartner, Partner, PartnerChange};
pub use trade_in::TradeIn;

pub use events::vocabulary::JobKind;

platform::named_enum! {
    #[strum(serialize_all = "snake_case")]
    pub enum PartnerKind {
        Logistics,
        Repair,
    }
}

impl PartnerKind {
    /// Devices travel with logistics partners; repair partners inspect them.
    pub fn for_job(kind: JobKind) -> Self {
        match kind {
            JobKind::Pickup | JobKind::Return => Self::Logistics,
            JobKind::Inspection => Self::Repair,
        }
    }
}

platform::named_enum! {
    #[strum(serialize_all = "snake_case")]
    pub enum JobStatus {
        Unassigned,
        Offered,
        Accepted,
        PickedUp,
        InspectionReported,
        Completed,
        Cancelled,
    }
}

impl JobStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }

    /// An admin may hand the job to a partner only before one has accepted it.
    pub fn assignable(self) -> bool {
        matches!(self, Self::Unassigned | Self::Offered)
    }

    /// Where `report` by the job's partner moves a `kind` job in this status; `None` when it
    /// does not fit (a duplicate, or a report that lost a race with a cancellation).
    pub fn after(self, kind: JobKind, report: Report) -> Option<Self> {
        use JobKind::{Inspection, Pickup, Return};
        match (self, kind, report) {
            (Self::Offered, _, Report::Accept) => Some(Self::Accepted),
            (Self::Accepted, Pickup | Return, Report::PickUp) => Some(Self::PickedUp),
            (Self::PickedUp, Pickup | Return, Report::Deliver) => Some(Self::Completed),
            (Self::Accepted, Inspection, Report::Inspect) => Some(Self::InspectionReported),
            _ => None,
        }
    }
}

/// What a partner reports through the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Accept,
    PickUp,
    Deliver,
    Inspect,
}

/// The Indian PIN code shape the order service accepts.
pub use platform::values::is_pincode;

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn reports_move_jobs_only_along_their_kind_path() {
        use JobKind::*;
        use JobStatus::*;
        assert_eq!(Offered.after(Pickup, Report::Accept), Some(Accepted));
        assert_eq!(Accepted.after(Pickup, Report::PickUp), Some(PickedUp));
        assert_eq!(PickedUp.after(Return, Report::Deliver), Some(Completed));
        assert_eq!(
            Accepted.after(Inspection, Report::Inspect),
            Some(InspectionReported)
        );
        assert_eq!(Accepted.after(Inspection, Report::PickUp), None);
        assert_eq!(Accepted.after(Pickup, Report::Inspect), None);
        assert_eq!(Offered.after(Pickup, Report::PickUp), None);
        assert_eq!(Cancelled.after(Pickup, Report::Accept), None);
        assert_eq!(Accepted.after(Pickup, Report::Accept), None);
        assert!(Unassigned.assignable() && Offered.assignable());
        assert!(!Accepted.assignable() && !Cancelled.assignable());
    }

    #[test]
    fn statuses_and_kinds_round_trip_through_their_names() {
        for status in JobStatus::iter() {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobKind::parse("return"), Some(JobKind::Return));
        assert_eq!(PartnerKind::parse("courier"), None);
        assert!(is_pincode("560001"));
        assert!(!is_pincode("060001"));
        assert!(!is_pincode("56001"));
    }
}
