//! Which partner gets a job. Pure: the store hands in every partner of the job's kind with
//! its load on the job's day, and every instance, given the same data, picks the same one.
//!
//! Eligible: active, of the kind the job needs (pickup and return → logistics, inspection →
//! repair), serving the job's pincode, not excluded (it declined this job or let its offer
//! lapse) and holding fewer jobs than its `daily_capacity` on the job's day. The least
//! loaded eligible partner wins; equal load goes to the lowest partner id.

use uuid::Uuid;

use super::{JobKind, PartnerKind};

/// A partner as assignment sees it, with its load on the job's day: the jobs it holds that
/// day that are not cancelled (a job taken away from it no longer names it, so it no longer
/// counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: Uuid,
    pub kind: PartnerKind,
    pub active: bool,
    pub pincodes: Vec<String>,
    pub daily_capacity: i64,
    pub load: i64,
}

/// Why a partner cannot take a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ineligible {
    Paused,
    WrongKind,
    PincodeNotServed,
    Excluded,
    AtCapacity,
}

impl Ineligible {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Paused => "the partner is paused",
            Self::WrongKind => "the partner does not do this kind of job",
            Self::PincodeNotServed => "the partner does not serve the job's pincode",
            Self::Excluded => "the partner declined this job or let its offer lapse",
            Self::AtCapacity => "the partner has no capacity left on the job's day",
        }
    }
}

/// The first reason `partner` cannot take a `kind` job at `pincode`, or `None` if it can.
pub fn ineligibility(
    partner: &Candidate,
    kind: JobKind,
    pincode: &str,
    excluded: &[Uuid],
) -> Option<Ineligible> {
    if !partner.active {
        Some(Ineligible::Paused)
    } else if partner.kind != PartnerKind::for_job(kind) {
        Some(Ineligible::WrongKind)
    } else if !partner.pincodes.iter().any(|served| served == pincode) {
        Some(Ineligible::PincodeNotServed)
    } else if excluded.contains(&partner.id) {
        Some(Ineligible::Excluded)
    } else if partner.load >= partner.daily_capacity {
        Some(Ineligible::AtCapacity)
    } else {
        None
    }
}

/// The partner for a `kind` job at `pincode`: the least loaded eligible one, ties to the
/// lowest id; `None` when nobody is eligible.
pub fn choose_partner(
    kind: JobKind,
    pincode: &str,
    excluded: &[Uuid],
    candidates: &[Candidate],
) -> Option<Uuid> {
    candidates
        .iter()
        .filter(|partner| ineligibility(partner, kind, pincode, excluded).is_none())
        .min_by_key(|partner| (partner.load, partner.id))
        .map(|partner| partner.id)
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
    fn a_partner_at_capacity_is_skipped_and_one_slot_below_is_not() {
        let full = partner(1, 3);
        let almost = partner(2, 2);
        assert_eq!(
            ineligibility(&full, JobKind::Pickup, "560001", &[]),
            Some(Ineligible::AtCapacity)
        );
        assert_eq!(
            choose_partner(JobKind::Return, "560001", &[], &[full, almost]),
            Some(Uuid::from_u128(2))
        );
    }

    #[test]
    fn each_reason_a_partner_cannot_take_a_job_is_named() {
        let mut paused = partner(1, 0);
        paused.active = false;
        assert_eq!(
            ineligibility(&paused, JobKind::Pickup, "560001", &[]),
            Some(Ineligible::Paused)
        );
        let logistics = partner(2, 0);
        assert_eq!(
            ineligibility(&logistics, JobKind::Inspection, "560001", &[]),
            Some(Ineligible::WrongKind)
        );
        assert_eq!(
            ineligibility(&logistics, JobKind::Pickup, "110001", &[]),
            Some(Ineligible::PincodeNotServed)
        );
        assert_eq!(
            ineligibility(&logistics, JobKind::Pickup, "560001", &[logistics.id]),
            Some(Ineligible::Excluded)
        );
        assert_eq!(
            ineligibility(&logistics, JobKind::Return, "560001", &[]),
            None
        );
    }

    #[test]
    fn nobody_eligible_means_no_partner() {
        assert_eq!(choose_partner(JobKind::Pickup, "560001", &[], &[]), None);
    }
}
