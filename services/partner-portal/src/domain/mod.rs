//! The portal's rules without I/O: what a partner may do to a job in each state, how
//! fulfilment's word and the partner's own reports combine, and the webhook rules
//! (signatures, which targets may be called, how retries spread out).

pub mod webhook;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Unassigned,
    Offered,
    Declined,
    Accepted,
    PickedUp,
    InspectionReported,
    Completed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [Self; 8] = [
        Self::Unassigned,
        Self::Offered,
        Self::Declined,
        Self::Accepted,
        Self::PickedUp,
        Self::InspectionReported,
        Self::Completed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unassigned => "unassigned",
            Self::Offered => "offered",
            Self::Declined => "declined",
            Self::Accepted => "accepted",
            Self::PickedUp => "picked_up",
            Self::InspectionReported => "inspection_reported",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// How far along the job's path a status is; progress never goes back.
    fn rank(self) -> u8 {
        match self {
            Self::Unassigned | Self::Offered | Self::Declined => 0,
            Self::Accepted => 1,
            Self::PickedUp => 2,
            Self::InspectionReported => 3,
            Self::Completed | Self::Cancelled => 4,
        }
    }

    /// Whether fulfilment's `JobStatusChanged` to `reported` should replace this status. The
    /// partner's own reports move the portal's row ahead of fulfilment; fulfilment's later
    /// confirmation of an earlier step must not move it back. Cancellation is final.
    pub fn takes_progress(self, reported: Self) -> bool {
        self != Self::Cancelled && reported.rank() >= self.rank()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Pickup,
    Inspection,
    Return,
}

impl JobKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pickup" => Some(Self::Pickup),
            "inspection" => Some(Self::Inspection),
            "return" => Some(Self::Return),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Decline,
    PickedUp,
    Delivered,
    InspectionReport,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::PickedUp => "picked-up",
            Self::Delivered => "delivered",
            Self::InspectionReport => "inspection-report",
        }
    }

    /// The status `self` moves a `kind` job in `status` to, or `None` when it is illegal.
    pub fn apply(self, kind: JobKind, status: JobStatus) -> Option<JobStatus> {
        use JobKind::{Inspection, Pickup, Return};
        match (self, kind, status) {
            (Self::Accept, _, JobStatus::Offered) => Some(JobStatus::Accepted),
            (Self::Decline, _, JobStatus::Offered) => Some(JobStatus::Declined),
            (Self::PickedUp, Pickup | Return, JobStatus::Accepted) => Some(JobStatus::PickedUp),
            (Self::Delivered, Pickup | Return, JobStatus::PickedUp) => Some(JobStatus::Completed),
            (Self::InspectionReport, Inspection, JobStatus::Accepted) => {
                Some(JobStatus::InspectionReported)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fulfilment_confirming_an_earlier_step_does_not_move_a_job_back() {
        assert!(!JobStatus::PickedUp.takes_progress(JobStatus::Accepted));
        assert!(!JobStatus::Completed.takes_progress(JobStatus::PickedUp));
        assert!(JobStatus::Accepted.takes_progress(JobStatus::Accepted));
        assert!(JobStatus::Offered.takes_progress(JobStatus::PickedUp));
        assert!(JobStatus::InspectionReported.takes_progress(JobStatus::Completed));
        assert!(!JobStatus::Cancelled.takes_progress(JobStatus::Completed));
    }

    #[test]
    fn actions_fit_only_their_kind_and_state() {
        use JobKind::*;
        use JobStatus::*;
        assert_eq!(Action::Accept.apply(Pickup, Offered), Some(Accepted));
        assert_eq!(Action::Decline.apply(Inspection, Offered), Some(Declined));
        assert_eq!(Action::Accept.apply(Pickup, Accepted), None);
        assert_eq!(Action::PickedUp.apply(Return, Accepted), Some(PickedUp));
        assert_eq!(Action::PickedUp.apply(Inspection, Accepted), None);
        assert_eq!(Action::Delivered.apply(Pickup, PickedUp), Some(Completed));
        assert_eq!(Action::Delivered.apply(Pickup, Accepted), None);
        assert_eq!(
            Action::InspectionReport.apply(Inspection, Accepted),
            Some(InspectionReported)
        );
        assert_eq!(Action::InspectionReport.apply(Pickup, Accepted), None);
        assert_eq!(Action::Accept.apply(Pickup, Cancelled), None);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
    }
}
