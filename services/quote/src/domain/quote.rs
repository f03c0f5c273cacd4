//! A quote: a price held for one shopper for a fixed time, usable by one order only. The
//! lock decision is the contract the order service depends on, so it is one pure function.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AnsweredOption, AppliedAdjustment, BreakdownLine, Category, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuoteStatus {
    /// Priced, not yet used, not yet expired.
    Active,
    /// Backing an order.
    Locked,
    /// Past `expires_at` without having been locked.
    Expired,
}

/// Which order a quote backs, since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockedQuote {
    pub order_id: Uuid,
    pub locked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub id: Uuid,
    /// The shopper's `sub`: only they (or an admin or a service) may read it.
    pub shopper_id: String,
    pub variant_id: Uuid,
    pub model_id: Uuid,
    pub category: Category,
    pub brand: String,
    pub base_price: Money,
    /// The minimum price in force when quoted; re-quotes use it too.
    pub floor_minor: i64,
    pub answers: Vec<AnsweredOption>,
    /// The adjustments applied when quoted; re-quotes use them too.
    pub adjustments: Vec<AppliedAdjustment>,
    pub price: Money,
    pub breakdown: Vec<BreakdownLine>,
    pub pincode: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub lock: Option<LockedQuote>,
    /// 1 when issued, 2 once locked: the `aggregate_seq` of its events.
    pub version: i64,
}

impl Quote {
    pub fn status_at(&self, now: DateTime<Utc>) -> QuoteStatus {
        if self.lock.is_some() {
            QuoteStatus::Locked
        } else if now >= self.expires_at {
            QuoteStatus::Expired
        } else {
            QuoteStatus::Active
        }
    }
}

/// What `POST /v1/quotes/{id}/lock` must answer for one quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockDecision {
    /// Lock it now (first lock).
    Lock,
    /// Locked by this very order before: answer as the first time (idempotent).
    AlreadyLockedByThisOrder(LockedQuote),
    /// Someone else's quote: indistinguishable from a missing one.
    NotFound,
    /// Backs another order (even if it has expired since).
    UsedByAnotherOrder,
    /// Expired before any order locked it.
    Expired,
}

/// `accepted_at`: when the order was accepted, which is when the quote had to be valid.
pub fn decide_lock(
    quote: &Quote,
    order_id: Uuid,
    shopper_id: &str,
    accepted_at: DateTime<Utc>,
) -> LockDecision {
    if quote.shopper_id != shopper_id {
        return LockDecision::NotFound;
    }
    match quote.lock {
        Some(lock) if lock.order_id == order_id => LockDecision::AlreadyLockedByThisOrder(lock),
        Some(_) => LockDecision::UsedByAnotherOrder,
        None if accepted_at >= quote.expires_at => LockDecision::Expired,
        None => LockDecision::Lock,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn quote(now: DateTime<Utc>) -> Quote {
        let money = Money::inr(100);
        Quote {
            id: Uuid::from_u128(1),
            shopper_id: "alice".into(),
            variant_id: Uuid::from_u128(2),
            model_id: Uuid::from_u128(3),
            category: Category::Phone,
            brand: "Acme".into(),
            base_price: money,
            floor_minor: 0,
            answers: vec![],
            adjustments: vec![],
            price: money,
            breakdown: vec![],
            pincode: "560001".into(),
            expires_at: now + Duration::hours(1),
            created_at: now,
            lock: None,
            version: 1,
        }
    }

    #[test]
    fn an_unlocked_unexpired_quote_of_the_shopper_is_locked() {
        let now = Utc::now();
        let order = Uuid::from_u128(9);
        assert_eq!(
            decide_lock(&quote(now), order, "alice", now),
            LockDecision::Lock
        );
        assert_eq!(
            decide_lock(&quote(now), order, "bob", now),
            LockDecision::NotFound
        );
    }

    #[test]
    fn the_same_order_gets_its_lock_again_even_after_expiry() {
        let now = Utc::now();
        let order = Uuid::from_u128(9);
        let lock = LockedQuote {
            order_id: order,
            locked_at: now,
        };
        let locked = Quote {
            lock: Some(lock),
            ..quote(now)
        };
        let later = now + Duration::days(30);
        assert_eq!(
            decide_lock(&locked, order, "alice", later),
            LockDecision::AlreadyLockedByThisOrder(lock)
        );
        assert_eq!(
            decide_lock(&locked, Uuid::from_u128(10), "alice", now),
            LockDecision::UsedByAnotherOrder
        );
        assert_eq!(
            decide_lock(&locked, Uuid::from_u128(10), "alice", later),
            LockDecision::UsedByAnotherOrder
        );
        assert_eq!(locked.status_at(later), QuoteStatus::Locked);
    }

    #[test]
    fn an_unlocked_quote_past_its_expiry_is_expired() {
        let now = Utc::now();
        let quote = quote(now);
        let at_expiry = quote.expires_at;
        assert_eq!(
            decide_lock(&quote, Uuid::from_u128(9), "alice", at_expiry),
            LockDecision::Expired
        );
        assert_eq!(quote.status_at(at_expiry), QuoteStatus::Expired);
        assert_eq!(quote.status_at(now), QuoteStatus::Active);
    }
}
