//! A job as the service works with it, and what each thing that happens to a job changes.
//! The store persists what these methods return; nothing else changes a job's fields. Which
//! status a partner's report leads to is [`JobStatus::after`](super::JobStatus::after).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{JobKind, JobStatus};

/// A job as the service works with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub order_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    /// The partner the job is offered to or held by.
    pub partner_id: Option<Uuid>,
    /// The day the job counts against a partner's capacity.
    pub day: NaiveDate,
    pub pincode: String,
    pub address: String,
    /// The pickup slot as the order gave it; empty for inspection and return jobs.
    pub slot_date: String,
    pub slot_window: String,
    pub offered_at: Option<DateTime<Utc>>,
    /// Partners that declined the job or let its offer lapse: not offered it again.
    pub excluded: Vec<Uuid>,
    /// The inspection's answers (`[{question_id, option_id}]`), once reported.
    pub answers: Option<serde_json::Value>,
    pub notes: Option<String>,
    pub requote: Requote,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every write; a write expecting an older version commits nothing.
    pub version: i64,
}

/// Where re-pricing an inspected device stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requote {
    /// When the next attempt is due; `None` when none is owed.
    pub due_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    /// Quote refused the re-pricing request itself: no more automatic attempts.
    pub failed: bool,
    pub last_error: Option<String>,
}

/// A job to create for a trade-in.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    pub kind: JobKind,
    pub day: NaiveDate,
    pub pincode: &'a str,
    pub address: &'a str,
    pub slot_date: &'a str,
    pub slot_window: &'a str,
}

/// One status a job went through: who held it, when, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobHistoryEntry {
    pub job_id: Uuid,
    pub status: JobStatus,
    pub partner_id: Option<Uuid>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl Job {
    /// A new job of `order_id`, unassigned, at version 1.
    pub fn created(id: Uuid, order_id: Uuid, new: NewJob<'_>, now: DateTime<Utc>) -> Self {
        Self {
            id,
            order_id,
            kind: new.kind,
            status: JobStatus::Unassigned,
            partner_id: None,
            day: new.day,
            pincode: new.pincode.to_owned(),
            address: new.address.to_owned(),
            slot_date: new.slot_date.to_owned(),
            slot_window: new.slot_window.to_owned(),
            offered_at: None,
            excluded: Vec::new(),
            answers: None,
            notes: None,
            requote: Requote::default(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The job on offer to `partner_id` from `now`.
    pub fn offered_to(mut self, partner_id: Uuid, now: DateTime<Utc>) -> Self {
        self.partner_id = Some(partner_id);
        self.status = JobStatus::Offered;
        self.offered_at = Some(now);
        self
    }

    /// The job with nobody to offer it to.
    pub fn unassigned(mut self) -> Self {
        self.partner_id = None;
        self.status = JobStatus::Unassigned;
        self.offered_at = None;
        self
    }

    /// The job taken away from its partner (it declined, or let the offer lapse): that
    /// partner is not offered it again automatically.
    pub fn taken_back(mut self) -> Self {
        if let Some(previous) = self.partner_id {
            self.excluded = with(&self.excluded, previous);
        }
        self
    }

    /// Whether an admin handing the job to `partner_id` changes it: `Err` with the job's
    /// status once a partner accepted it or it ended; `Ok(false)` when it is already on
    /// offer to that partner.
    pub fn needs_handing_to(&self, partner_id: Uuid) -> Result<bool, JobStatus> {
        if !self.status.assignable() {
            return Err(self.status);
        }
        Ok(!(self.status == JobStatus::Offered && self.partner_id == Some(partner_id)))
    }

    /// The job an admin handed to `partner_id` at `now`: the previous holder is excluded,
    /// the chosen partner is not, even if it declined before (the admin decides).
    pub fn handed_to(self, partner_id: Uuid, now: DateTime<Utc>) -> Self {
        let mut job = self.taken_back();
        job.excluded.retain(|id| *id != partner_id);
        job.offered_to(partner_id, now)
    }

    /// The job with an inspection report stored, its re-pricing due `now` with a clean slate.
    pub fn inspection_reported(
        mut self,
        answers: serde_json::Value,
        notes: String,
        now: DateTime<Utc>,
    ) -> Self {
        self.answers = Some(answers);
        self.notes = Some(notes);
        self.requote = Requote {
            due_at: Some(now),
            attempts: 0,
            failed: false,
            last_error: None,
        };
        self
    }

    /// When re-pricing this job is owed: only an inspected job that still waits for its
    /// final price, and not after quote refused the request itself.
    pub fn requote_due(&self) -> Option<DateTime<Utc>> {
        self.requote
            .due_at
            .filter(|_| self.status == JobStatus::InspectionReported)
    }

    /// The job quote re-priced: nothing more is owed.
    pub fn repriced(mut self) -> Self {
        self.requote.due_at = None;
        self.requote.last_error = None;
        self
    }

    /// A failed re-pricing attempt: try again at `next`, or, when quote refused the request
    /// itself (`None`), stop and flag the job for an admin.
    pub fn requote_failed(mut self, error: String, next: Option<DateTime<Utc>>) -> Self {
        self.requote.attempts = self.requote.attempts.saturating_add(1);
        self.requote.failed = next.is_none();
        self.requote.due_at = next;
        self.requote.last_error = Some(error);
        self
    }

    /// An admin asks for another re-pricing attempt `now`.
    pub fn requote_again(mut self, now: DateTime<Utc>) -> Self {
        self.requote.failed = false;
        self.requote.due_at = Some(now);
        self
    }

    /// The job cancelled: nothing more is owed for it.
    pub fn cancelled(mut self) -> Self {
        self.status = JobStatus::Cancelled;
        self.requote.due_at = None;
        self
    }
}

/// `ids` and `id`, each once, in order.
fn with(ids: &[Uuid], id: Uuid) -> Vec<Uuid> {
    let mut ids = ids.to_vec();
    ids.push(id);
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn pickup(now: DateTime<Utc>) -> Job {
        let new = NewJob {
            kind: JobKind::Pickup,
            day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            pincode: "560001",
            address: "12 MG Road",
            slot_date: "2026-12-01",
            slot_window: "morning",
        };
        Job::created(Uuid::now_v7(), Uuid::now_v7(), new, now)
    }

    fn partner(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn a_new_job_is_unassigned_at_version_one_and_owes_nothing() {
        let now = Utc::now();
        let job = pickup(now);
        assert_eq!(job.status, JobStatus::Unassigned);
        assert_eq!(job.version, 1);
        assert_eq!(job.partner_id, None);
        assert!(job.excluded.is_empty());
        assert_eq!(job.requote, Requote::default());
        assert_eq!(job.requote_due(), None);
        assert_eq!((job.created_at, job.updated_at), (now, now));
    }

    #[test]
    fn a_job_taken_back_excludes_its_partner_once_and_can_be_left_unassigned() {
        let now = Utc::now();
        let offered = pickup(now).offered_to(partner(7), now);
        assert_eq!(offered.status, JobStatus::Offered);
        assert_eq!(offered.offered_at, Some(now));

        let taken = offered.taken_back().taken_back();
        assert_eq!(taken.excluded, vec![partner(7)]);
        let left = taken.unassigned();
        assert_eq!(left.status, JobStatus::Unassigned);
        assert_eq!((left.partner_id, left.offered_at), (None, None));
        assert_eq!(left.excluded, vec![partner(7)], "the exclusion stays");
        assert_eq!(left.clone().taken_back(), left, "nobody held it");
    }

    #[test]
    fn an_admin_may_hand_over_only_a_job_nobody_accepted() {
        let now = Utc::now();
        let job = pickup(now);
        assert_eq!(job.needs_handing_to(partner(1)), Ok(true));
        let offered = job.offered_to(partner(1), now);
        assert_eq!(offered.needs_handing_to(partner(1)), Ok(false));
        assert_eq!(offered.needs_handing_to(partner(2)), Ok(true));
        let mut accepted = offered;
        accepted.status = JobStatus::Accepted;
        assert_eq!(
            accepted.needs_handing_to(partner(2)),
            Err(JobStatus::Accepted)
        );
        let cancelled = accepted.cancelled();
        assert_eq!(
            cancelled.needs_handing_to(partner(2)),
            Err(JobStatus::Cancelled)
        );
    }

    #[test]
    fn handing_a_job_over_excludes_the_previous_holder_but_not_the_chosen_partner() {
        let now = Utc::now();
        let mut job = pickup(now).offered_to(partner(1), now);
        job.excluded = vec![partner(2), partner(3)];
        let later = now + Duration::minutes(5);

        let handed = job.handed_to(partner(2), later);

        assert_eq!(handed.status, JobStatus::Offered);
        assert_eq!(handed.partner_id, Some(partner(2)));
        assert_eq!(handed.offered_at, Some(later));
        assert_eq!(handed.excluded, vec![partner(1), partner(3)]);
    }

    #[test]
    fn re_pricing_is_owed_from_the_report_until_priced_refused_or_cancelled() {
        let now = Utc::now();
        let mut job = pickup(now);
        job.kind = JobKind::Inspection;
        let mut reported = job.inspection_reported(serde_json::json!([]), "ok".into(), now);
        assert_eq!(reported.requote_due(), None, "not yet inspection_reported");
        reported.status = JobStatus::InspectionReported;
        assert_eq!(reported.requote_due(), Some(now));

        let later = now + Duration::seconds(30);
        let retried = reported
            .clone()
            .requote_failed("quote is down".into(), Some(later));
        assert_eq!(retried.requote_due(), Some(later));
        assert_eq!(retried.requote.attempts, 1);
        assert!(!retried.requote.failed);

        let refused = retried.requote_failed("invalid answers".into(), None);
        assert_eq!(refused.requote_due(), None);
        assert_eq!(refused.requote.attempts, 2);
        assert!(refused.requote.failed);
        assert_eq!(
            refused.requote.last_error.as_deref(),
            Some("invalid answers")
        );

        let again = refused.requote_again(later);
        assert_eq!(again.requote_due(), Some(later));
        assert!(!again.requote.failed);
        assert_eq!(again.requote.attempts, 2, "attempts are history, not reset");

        let priced = again.clone().repriced();
        assert_eq!(priced.requote_due(), None);
        assert_eq!(priced.requote.last_error, None);
        assert_eq!(again.cancelled().requote_due(), None);
    }

    #[test]
    fn a_new_inspection_report_starts_re_pricing_afresh() {
        let now = Utc::now();
        let mut job = pickup(now).requote_failed("refused".into(), None);
        job.status = JobStatus::InspectionReported;
        let reported = job.inspection_reported(serde_json::json!([{"q": 1}]), "n".into(), now);
        assert_eq!(
            reported.requote,
            Requote {
                due_at: Some(now),
                attempts: 0,
                failed: false,
                last_error: None,
            }
        );
        assert_eq!(reported.notes.as_deref(), Some("n"));
    }
}
