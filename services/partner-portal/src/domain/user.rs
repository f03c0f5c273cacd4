//! Partner users: people at a partner whom admins create here and issue tokens to.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A partner user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalUser {
    pub id: Uuid,
    /// The partner as fulfilment knows it.
    pub partner_id: Uuid,
    pub email: String,
    pub name: String,
    pub active: bool,
    /// Set when a disabled user is enabled again: its tokens from before stay void.
    pub tokens_valid_from: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which of a user's tokens every service must refuse, whoever issued them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokensRevoked {
    /// All of them: the user is disabled.
    All,
    /// Those issued before this moment: the user was disabled and enabled again.
    IssuedBefore(DateTime<Utc>),
}

/// A partner user an admin is creating (active from the start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub partner_id: Uuid,
    pub email: String,
    pub name: String,
}

impl PortalUser {
    /// Whether a token naming this user may act for `partner_id`: only while the user is
    /// active and belongs to that partner, so disabling a user cuts its tokens off at once.
    pub fn may_act_for(&self, partner_id: Uuid) -> bool {
        self.active && self.partner_id == partner_id
    }

    /// What must be refused of this user's tokens; `None` for a user never disabled.
    pub fn tokens_revoked(&self) -> Option<TokensRevoked> {
        if !self.active {
            return Some(TokensRevoked::All);
        }
        self.tokens_valid_from.map(TokensRevoked::IssuedBefore)
    }
}

/// The longest email address a user may have, in characters (its column's length).
pub const MAX_EMAIL_CHARS: usize = 320;

/// The longest name a user may have, in characters as sent (its column's length).
pub const MAX_NAME_CHARS: usize = 200;

/// Whether `email` is shaped like an email address (`local@domain.tld`, no whitespace, at
/// most [`MAX_EMAIL_CHARS`] characters). Whether it reaches anyone is not the portal's to
/// check.
pub fn is_email_address(email: &str) -> bool {
    let shaped = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
    });
    shaped && email.chars().count() <= MAX_EMAIL_CHARS && !email.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_user_of_the_tokens_partner_may_act_for_it() {
        let partner = Uuid::from_u128(1);
        let mut user = PortalUser {
            id: Uuid::from_u128(9),
            partner_id: partner,
            email: "dispatch@partner.example".into(),
            name: "Dispatcher".into(),
            active: true,
            tokens_valid_from: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert!(user.may_act_for(partner));
        assert!(!user.may_act_for(Uuid::from_u128(2)));
        user.active = false;
        assert!(!user.may_act_for(partner));
    }

    #[test]
    fn a_disabled_user_loses_every_token_and_a_re_enabled_one_its_old_ones() {
        let enabled_again = Utc::now();
        let mut user = PortalUser {
            id: Uuid::from_u128(9),
            partner_id: Uuid::from_u128(1),
            email: "dispatch@partner.example".into(),
            name: "Dispatcher".into(),
            active: true,
            tokens_valid_from: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert_eq!(user.tokens_revoked(), None);
        user.active = false;
        assert_eq!(user.tokens_revoked(), Some(TokensRevoked::All));
        user.active = true;
        user.tokens_valid_from = Some(enabled_again);
        assert_eq!(
            user.tokens_revoked(),
            Some(TokensRevoked::IssuedBefore(enabled_again))
        );
    }

    #[test]
    fn email_addresses_need_a_local_part_and_a_dotted_domain() {
        assert!(is_email_address("dispatch@partner.example"));
        for refused in [
            "",
            "dispatch",
            "@partner.example",
            "dispatch@localhost",
            "dispatch@.example",
            "dis patch@partner.example",
        ] {
            assert!(!is_email_address(refused), "{refused}");
        }
        let long = format!("{}@partner.example", "a".repeat(MAX_EMAIL_CHARS));
        assert!(!is_email_address(&long));
        // Characters, like the column and the document's `maxLength`, not bytes.
        let local = "é".repeat(MAX_EMAIL_CHARS - "@partner.example".len());
        assert!(is_email_address(&format!("{local}@partner.example")));
    }
}
