//! The portal is where partner users are disabled, but their tokens are honoured by every
//! service: so the portal tells all of them, through the platform's shared revocations, at
//! once when an admin changes a user and again every round, in case Redis lost it (a
//! restart) or was down when the change was made.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use platform::auth::{Revocation, Revocations};
use platform::due_work::Periodic;
use sea_orm::DatabaseConnection;

use crate::domain::PortalUser;
use crate::domain::user::TokensRevoked;
use crate::store;

/// The periodic round that tells every service again whose tokens are revoked.
pub const TELL_REVOCATIONS: &str = "portal.tell_revocations";
const TELL_EVERY: Duration = Duration::from_secs(30);

/// A failed round (Redis down) is tried again soon, then every half minute.
pub fn retry() -> platform::retry::RetryPolicy {
    platform::retry::RetryPolicy::new(Duration::from_secs(1), TELL_EVERY)
}

/// Tells every service which of `user`'s tokens to refuse (nothing for a user never
/// disabled).
pub async fn tell_services(revocations: &Revocations, user: &PortalUser) -> Result<(), String> {
    let revocation = match user.tokens_revoked() {
        None => return Ok(()),
        Some(TokensRevoked::All) => Revocation::All,
        Some(TokensRevoked::IssuedBefore(at)) => Revocation::IssuedBefore(at.timestamp()),
    };
    revocations
        .revoke(&user.id.to_string(), revocation)
        .await
        .map_err(|error| format!("revoking the tokens of user {} failed: {error}", user.id))
}

/// Every round, tells every service again about every user whose tokens are revoked.
pub fn teller(
    db: DatabaseConnection,
    revocations: Arc<Revocations>,
) -> Periodic<impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static> {
    Periodic::new(TELL_REVOCATIONS, TELL_EVERY, move || {
        let db = db.clone();
        let revocations = revocations.clone();
        let round: BoxFuture<'static, Result<(), String>> = Box::pin(async move {
            let users = store::users_with_revoked_tokens(&db)
                .await
                .map_err(|error| format!("reading revoked users failed: {error}"))?;
            for user in &users {
                tell_services(&revocations, user).await?;
            }
            Ok(())
        });
        round
    })
}
