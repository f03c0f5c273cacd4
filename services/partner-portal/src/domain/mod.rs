//! The portal's records and rules, without I/O: a job as the portal keeps it ([`job`]),
//! partner users ([`user`]), webhooks and their delivery log ([`webhook`]); what a partner
//! may do to a job in each state, how fulfilment's word and the partner's own reports
//! combine, and the webhook rules (signatures, which targets may be called, how retries
//! spread out). The store persists these records; nothing else touches the tables.

pub mod job;
pub mod user;
pub mod webhook;

use uuid::Uuid;

pub use job::{HistoryEntry, NewJob, PortalJob, ReportRefused, Source};
pub use user::{NewUser, PortalUser};
pub use webhook::{Attempt, Delivery, DeliveryStatus, NewAttempt, Webhook, WebhookEvent};

platform::named_enum! {
    #[strum(serialize_all = "snake_case")]
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
}

impl JobStatus {
    /// How far along the job's path a status is; progress never goes back
    /// (offered < accepted < picked_up < inspection_reported < completed).
    pub fn rank(self) -> u8 {
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

/// Who holds a job in the portal's read model, and how far it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobState {
    pub status: JobStatus,
    pub partner: Option<Uuid>,
}

/// What fulfilment says about a job (`fulfilment.events`), reduced to what the portal keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfilmentChange {
    /// `PartnerAssigned`: offered to this partner.
    Assigned(Uuid),
    /// `JobUnassigned`: back in fulfilment's queue.
    Unassigned,
    /// `JobStatusChanged`.
    Status(JobStatus),
    /// `JobCancelled`.
    Cancelled,
}

/// A change a partner hears about through its webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The job was offered to this partner.
    Assigned(Uuid),
    /// The job's status moved without this partner making the move itself.
    Updated(Uuid),
    Cancelled(Uuid),
    /// The job went to another partner or back to the queue.
    Withdrawn(Uuid),
}

impl Notice {
    pub fn partner(self) -> Uuid {
        match self {
            Self::Assigned(partner)
            | Self::Updated(partner)
            | Self::Cancelled(partner)
            | Self::Withdrawn(partner) => partner,
        }
    }

    /// The webhook event a partner hears this notice as.
    pub fn event(self) -> WebhookEvent {
        match self {
            Self::Assigned(_) => WebhookEvent::Assigned,
            Self::Updated(_) => WebhookEvent::Updated,
            Self::Cancelled(_) => WebhookEvent::Cancelled,
            Self::Withdrawn(_) => WebhookEvent::Withdrawn,
        }
    }

    /// The webhook payload's `type`.
    pub fn event_type(self) -> &'static str {
        self.event().as_str()
    }
}

/// The read model after one of fulfilment's changes, and whom to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub state: JobState,
    pub notices: Vec<Notice>,
}

/// The precedence rule. Assignment changes, unassignment and cancellation always apply: they
/// are fulfilment's to decide. A status applies only if it is at least as far along as the
/// row already is, because the partner's own reports move the row ahead at once and
/// fulfilment's later confirmation of an earlier step must not move it back. `None`: nothing
/// changes (a stale or repeated status, a repeated cancellation).
pub fn apply_fulfilment(current: JobState, change: FulfilmentChange) -> Option<Applied> {
    let withdrawn_from = |now_held_by: Option<Uuid>| {
        current
            .partner
            .filter(|previous| Some(*previous) != now_held_by)
            .map(Notice::Withdrawn)
    };
    match change {
        FulfilmentChange::Assigned(partner) => {
            let mut notices: Vec<Notice> = withdrawn_from(Some(partner)).into_iter().collect();
            notices.push(Notice::Assigned(partner));
            Some(Applied {
                state: JobState {
                    status: JobStatus::Offered,
                    partner: Some(partner),
                },
                notices,
            })
        }
        FulfilmentChange::Unassigned => Some(Applied {
            state: JobState {
                status: JobStatus::Unassigned,
                partner: None,
            },
            notices: withdrawn_from(None).into_iter().collect(),
        }),
        FulfilmentChange::Status(reported) => {
            if reported == current.status || !current.status.takes_progress(reported) {
                return None;
            }
            Some(Applied {
                state: JobState {
                    status: reported,
                    partner: current.partner,
                },
                notices: current.partner.map(Notice::Updated).into_iter().collect(),
            })
        }
        FulfilmentChange::Cancelled => {
            if current.status == JobStatus::Cancelled {
                return None;
            }
            Some(Applied {
                state: JobState {
                    status: JobStatus::Cancelled,
                    partner: current.partner,
                },
                notices: current.partner.map(Notice::Cancelled).into_iter().collect(),
            })
        }
    }
}

/// Fulfilment's job kinds: the portal shows a job by fulfilment's own names.
pub use events::vocabulary::JobKind;

platform::named_enum! {
    #[strum(serialize_all = "kebab-case")]
    pub enum Action {
        Accept,
        Decline,
        PickedUp,
        Delivered,
        InspectionReport,
    }
}

impl Action {
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
    use strum::IntoEnumIterator;

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
        for status in JobStatus::iter() {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn kinds_are_fulfilments_names() {
        assert_eq!(
            JobKind::iter().map(JobKind::as_str).collect::<Vec<_>>(),
            ["pickup", "inspection", "return"]
        );
        for kind in JobKind::iter() {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("Pickup"), None);
    }

    fn state(status: JobStatus, partner: Option<Uuid>) -> JobState {
        JobState { status, partner }
    }

    #[test]
    fn a_late_confirmation_of_an_earlier_step_changes_nothing() {
        let partner = Some(Uuid::from_u128(1));
        for (current, late) in [
            (JobStatus::PickedUp, JobStatus::Accepted),
            (JobStatus::Completed, JobStatus::PickedUp),
            (JobStatus::InspectionReported, JobStatus::Accepted),
            (JobStatus::Completed, JobStatus::InspectionReported),
            (JobStatus::Accepted, JobStatus::Accepted),
        ] {
            assert_eq!(
                apply_fulfilment(state(current, partner), FulfilmentChange::Status(late)),
                None,
                "{current:?} then {late:?}"
            );
        }
    }

    #[test]
    fn a_status_further_along_applies_and_tells_the_holder() {
        let partner = Uuid::from_u128(1);
        let applied = apply_fulfilment(
            state(JobStatus::Accepted, Some(partner)),
            FulfilmentChange::Status(JobStatus::Completed),
        )
        .unwrap();
        assert_eq!(applied.state, state(JobStatus::Completed, Some(partner)));
        assert_eq!(applied.notices, [Notice::Updated(partner)]);
        // Fulfilment may run ahead of the partner's own reports.
        let ahead = apply_fulfilment(
            state(JobStatus::Offered, Some(partner)),
            FulfilmentChange::Status(JobStatus::PickedUp),
        )
        .unwrap();
        assert_eq!(ahead.state.status, JobStatus::PickedUp);
    }

    #[test]
    fn reassignment_always_applies_and_the_previous_holder_loses_the_job() {
        let (first, second) = (Uuid::from_u128(1), Uuid::from_u128(2));
        for current in [
            JobStatus::Declined,
            JobStatus::Accepted,
            JobStatus::PickedUp,
        ] {
            let applied = apply_fulfilment(
                state(current, Some(first)),
                FulfilmentChange::Assigned(second),
            )
            .unwrap();
            assert_eq!(applied.state, state(JobStatus::Offered, Some(second)));
            assert_eq!(
                applied.notices,
                [Notice::Withdrawn(first), Notice::Assigned(second)]
            );
        }
        let fresh = apply_fulfilment(
            state(JobStatus::Unassigned, None),
            FulfilmentChange::Assigned(first),
        )
        .unwrap();
        assert_eq!(fresh.notices, [Notice::Assigned(first)]);
        let again = apply_fulfilment(
            state(JobStatus::Offered, Some(first)),
            FulfilmentChange::Assigned(first),
        )
        .unwrap();
        assert_eq!(
            again.notices,
            [Notice::Assigned(first)],
            "no withdrawal from itself"
        );
    }

    #[test]
    fn unassignment_and_cancellation_always_apply() {
        let partner = Uuid::from_u128(1);
        let unassigned = apply_fulfilment(
            state(JobStatus::Declined, Some(partner)),
            FulfilmentChange::Unassigned,
        )
        .unwrap();
        assert_eq!(unassigned.state, state(JobStatus::Unassigned, None));
        assert_eq!(unassigned.notices, [Notice::Withdrawn(partner)]);
        let cancelled = apply_fulfilment(
            state(JobStatus::PickedUp, Some(partner)),
            FulfilmentChange::Cancelled,
        )
        .unwrap();
        assert_eq!(cancelled.state, state(JobStatus::Cancelled, Some(partner)));
        assert_eq!(cancelled.notices, [Notice::Cancelled(partner)]);
        assert_eq!(
            apply_fulfilment(
                state(JobStatus::Cancelled, Some(partner)),
                FulfilmentChange::Status(JobStatus::Completed)
            ),
            None,
            "nothing revives a cancelled job's progress"
        );
        assert_eq!(
            apply_fulfilment(
                state(JobStatus::Unassigned, None),
                FulfilmentChange::Cancelled
            )
            .unwrap()
            .notices,
            []
        );
    }

    #[test]
    fn notices_name_their_webhook_types() {
        let partner = Uuid::from_u128(7);
        assert_eq!(Notice::Assigned(partner).event_type(), "job.assigned");
        assert_eq!(Notice::Updated(partner).event_type(), "job.updated");
        assert_eq!(Notice::Cancelled(partner).event_type(), "job.cancelled");
        assert_eq!(Notice::Withdrawn(partner).event_type(), "job.withdrawn");
        assert_eq!(Notice::Withdrawn(partner).partner(), partner);
    }
}
