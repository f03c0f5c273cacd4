//! A partner as the service works with it, what an admin's change does to it, and how it
//! enters assignment as a [`Candidate`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Candidate, PartnerKind};

/// A partner as the service works with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: Uuid,
    pub name: String,
    pub kind: PartnerKind,
    /// The six-digit pincodes it serves, each once, in order.
    pub pincodes: Vec<String>,
    /// How many jobs it takes a day.
    pub daily_capacity: i64,
    /// A paused partner is offered nothing.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A partner to register, as an admin or the seed describes it.
#[derive(Debug, Clone)]
pub struct NewPartner {
    pub id: Uuid,
    pub name: String,
    pub kind: PartnerKind,
    pub pincodes: Vec<String>,
    pub daily_capacity: i64,
    pub active: bool,
}

/// What an admin changes about a partner; `None` keeps what it has.
#[derive(Debug, Clone, Default)]
pub struct PartnerChange {
    pub name: Option<String>,
    pub pincodes: Option<Vec<String>>,
    pub daily_capacity: Option<i64>,
    pub active: Option<bool>,
}

impl Partner {
    /// The partner as registered at `now`.
    pub fn registered(partner: NewPartner, now: DateTime<Utc>) -> Self {
        Self {
            id: partner.id,
            name: partner.name,
            kind: partner.kind,
            pincodes: distinct(&partner.pincodes),
            daily_capacity: partner.daily_capacity,
            active: partner.active,
            created_at: now,
            updated_at: now,
        }
    }

    /// The partner after `change`, made at `now`.
    pub fn changed(mut self, change: PartnerChange, now: DateTime<Utc>) -> Self {
        if let Some(name) = change.name {
            self.name = name;
        }
        if let Some(pincodes) = change.pincodes {
            self.pincodes = distinct(&pincodes);
        }
        if let Some(capacity) = change.daily_capacity {
            self.daily_capacity = capacity;
        }
        if let Some(active) = change.active {
            self.active = active;
        }
        self.updated_at = now;
        self
    }

    /// The partner as assignment sees it, holding `load` jobs on the job's day.
    pub fn candidate(&self, load: i64) -> Candidate {
        Candidate {
            id: self.id,
            kind: self.kind,
            active: self.active,
            pincodes: self.pincodes.clone(),
            daily_capacity: self.daily_capacity,
            load,
        }
    }
}

/// `pincodes`, each once, in order.
pub fn distinct(pincodes: &[String]) -> Vec<String> {
    let mut unique = pincodes.to_vec();
    unique.sort_unstable();
    unique.dedup();
    unique
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn registered(now: DateTime<Utc>) -> Partner {
        Partner::registered(
            NewPartner {
                id: Uuid::from_u128(1),
                name: "Swift".into(),
                kind: PartnerKind::Logistics,
                pincodes: vec!["560002".into(), "560001".into(), "560002".into()],
                daily_capacity: 5,
                active: true,
            },
            now,
        )
    }

    #[test]
    fn a_partner_serves_each_pincode_once_in_order() {
        let partner = registered(Utc::now());
        assert_eq!(partner.pincodes, vec!["560001", "560002"]);
        assert_eq!(partner.created_at, partner.updated_at);
    }

    #[test]
    fn a_change_replaces_only_what_it_names() {
        let now = Utc::now();
        let partner = registered(now);
        let later = now + Duration::minutes(1);

        let paused = partner.clone().changed(
            PartnerChange {
                active: Some(false),
                ..PartnerChange::default()
            },
            later,
        );
        assert!(!paused.active);
        assert_eq!(paused.name, partner.name);
        assert_eq!(paused.pincodes, partner.pincodes);
        assert_eq!(paused.daily_capacity, partner.daily_capacity);
        assert_eq!((paused.created_at, paused.updated_at), (now, later));

        let moved = partner.changed(
            PartnerChange {
                name: Some("Swifter".into()),
                pincodes: Some(vec!["110001".into(), "110001".into()]),
                daily_capacity: Some(9),
                active: None,
            },
            later,
        );
        assert_eq!(moved.name, "Swifter");
        assert_eq!(moved.pincodes, vec!["110001"]);
        assert_eq!(moved.daily_capacity, 9);
        assert!(moved.active);
    }

    #[test]
    fn a_partner_enters_assignment_with_its_load() {
        let partner = registered(Utc::now());
        let candidate = partner.candidate(2);
        assert_eq!(candidate.id, partner.id);
        assert_eq!(candidate.kind, PartnerKind::Logistics);
        assert_eq!(candidate.pincodes, partner.pincodes);
        assert_eq!((candidate.daily_capacity, candidate.load), (5, 2));
        assert!(candidate.active);
    }
}
