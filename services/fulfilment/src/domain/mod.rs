//! Fulfilment's rules without I/O: which partner gets a job, and where a partner's report
//! moves a job. Kept pure so both are tested exhaustively without a database.

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Pickup,
    Inspection,
    Return,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pickup => "pickup",
            Self::Inspection => "inspection",
            Self::Return => "return",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pickup" => Some(Self::Pickup),
            "inspection" => Some(Self::Inspection),
            "return" => Some(Self::Return),
            _ => None,
        }
    }

    /// Devices travel with logistics partners; repair partners inspect them.
    pub fn partner_kind(self) -> PartnerKind {
        match self {
            Self::Pickup | Self::Return => PartnerKind::Logistics,
            Self::Inspection => PartnerKind::Repair,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerKind {
    Logistics,
    Repair,
}

impl PartnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logistics => "logistics",
            Self::Repair => "repair",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "logistics" => Some(Self::Logistics),
            "repair" => Some(Self::Repair),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Unassigned,
    Offered,
    Accepted,
    PickedUp,
    InspectionReported,
    Completed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [Self; 7] = [
        Self::Unassigned,
        Self::Offered,
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

    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
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

/// A partner as assignment sees it, with its load on the job's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: Uuid,
    pub kind: PartnerKind,
    pub active: bool,
    pub pincodes: Vec<String>,
    pub daily_capacity: i64,
    pub load: i64,
}

/// The partner for a `kind` job at `pincode`: active, of the right kind, serving the
/// pincode, not excluded (it declined or let the offer lapse) and under its daily capacity;
/// the least loaded wins, ties go to the lowest id so every instance picks the same one.
pub fn choose_partner(
    kind: JobKind,
    pincode: &str,
    excluded: &[Uuid],
    candidates: &[Candidate],
) -> Option<Uuid> {
    candidates
        .iter()
        .filter(|partner| {
            partner.active
                && partner.kind == kind.partner_kind()
                && partner.pincodes.iter().any(|served| served == pincode)
                && !excluded.contains(&partner.id)
                && partner.load < partner.daily_capacity
        })
        .min_by_key(|partner| (partner.load, partner.id))
        .map(|partner| partner.id)
}

/// Six digits, not starting with 0: the Indian PIN code shape the order service accepts.
pub fn valid_pincode(value: &str) -> bool {
    value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(id: u128, load: i64) -> Candidate {
        Candidate {
            id: Uuid::from_u128(id),
            kind: PartnerKind::Logistics,
            active: true,
            pincodes: vec!["560001".into()],
            daily_capacity: 3,
            load,
        }
    }

    #[test]
    fn the_least_loaded_partner_gets_the_job() {
        let partners = [partner(1, 2), partner(2, 0), partner(3, 1)];
        let chosen = choose_partner(JobKind::Pickup, "560001", &[], &partners);
        assert_eq!(chosen, Some(Uuid::from_u128(2)));
    }

    #[test]
    fn equal_load_goes_to_the_lowest_id_whatever_the_order() {
        let partners = [partner(9, 1), partner(4, 1), partner(7, 1)];
        let chosen = choose_partner(JobKind::Pickup, "560001", &[], &partners);
        assert_eq!(chosen, Some(Uuid::from_u128(4)));
    }

    #[test]
    fn paused_full_excluded_elsewhere_or_wrong_kind_partners_are_skipped() {
        let mut paused = partner(1, 0);
        paused.active = false;
        let full = partner(2, 3);
        let excluded = partner(3, 0);
        let mut elsewhere = partner(4, 0);
        elsewhere.pincodes = vec!["110001".into()];
        let mut repair = partner(5, 0);
        repair.kind = PartnerKind::Repair;
        let partners = [paused, full, excluded, elsewhere, repair.clone()];
        let skipped = [Uuid::from_u128(3)];
        assert_eq!(
            choose_partner(JobKind::Pickup, "560001", &skipped, &partners),
            None
        );
        assert_eq!(
            choose_partner(JobKind::Inspection, "560001", &skipped, &partners),
            Some(repair.id)
        );
    }

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
    }

    #[test]
    fn statuses_and_kinds_round_trip_through_their_names() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobKind::parse("return"), Some(JobKind::Return));
        assert_eq!(PartnerKind::parse("courier"), None);
        assert!(valid_pincode("560001"));
        assert!(!valid_pincode("060001"));
        assert!(!valid_pincode("56001"));
    }
}
