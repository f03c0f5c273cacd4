//! Revocation: disabling a portal user must cut its tokens off in every service, not only
//! in the portal, which is the one that knows the user. Tokens are self-contained, so every
//! service asks one shared place whether a subject's tokens were revoked: Redis (all
//! services of a deployment share its key prefix) or, without Redis, this process (the dev
//! run hosts every service in one process).
//!
//! What a service read is trusted for `auth.revocation_cache_ms`, so a busy route costs no
//! round trip per request; that is also the longest a revoked token keeps working.
//! When Redis does not answer, the last answer read stands and a subject never read is let
//! through: an outage of the cache must not become an outage of every service, and the
//! portal still refuses a disabled user from its own database.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::RedisResult;
use tokio::time::Instant;

use crate::redis::RedisHandle;

/// Past this many cached subjects, expired answers are dropped (then all, if still full).
const CACHE_LIMIT: usize = 10_000;
/// At most one warning per this long while Redis is not answering.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Which of a subject's tokens no longer count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// All of them, whenever issued: the user is disabled.
    All,
    /// Those issued before this moment (Unix seconds): a re-enabled user's old tokens stay
    /// void, the ones issued since work.
    IssuedBefore(i64),
}

impl Revocation {
    /// Tokens issued before this (Unix seconds) are void.
    fn cutoff(self) -> i64 {
        match self {
            Revocation::All => i64::MAX,
            Revocation::IssuedBefore(at) => at,
        }
    }
}

enum Store {
    Redis(RedisHandle),
    /// Shared by every service of this process.
    Process,
}

static PROCESS_REVOCATIONS: LazyLock<Mutex<HashMap<String, i64>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

struct Cached {
    cutoff: Option<i64>,
    read_at: Instant,
}

/// Records and answers revocations; one per service, shared by its workers.
pub struct Revocations {
    store: Store,
    trust_for: Duration,
    cache: Mutex<HashMap<String, Cached>>,
    last_warning: Mutex<Option<Instant>>,
}

impl Revocations {
    /// Kept in Redis when there is one, else in this process.
    pub fn new(redis: Option<RedisHandle>, trust_for: Duration) -> Arc<Self> {
        Arc::new(Self {
            store: redis.map_or(Store::Process, Store::Redis),
            trust_for,
            cache: Mutex::new(HashMap::new()),
            last_warning: Mutex::new(None),
        })
    }

    /// Revokes `subject`'s tokens in every service (within `auth.revocation_cache_ms`).
    pub async fn revoke(&self, subject: &str, revocation: Revocation) -> RedisResult<()> {
        let cutoff = revocation.cutoff();
        match &self.store {
            Store::Redis(redis) => {
                let key = key_of(redis, subject);
                redis
                    .call(|mut connection| async move {
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(cutoff)
                            .query_async::<()>(&mut connection)
                            .await
                    })
                    .await?;
            }
            Store::Process => {
                lock(&PROCESS_REVOCATIONS).insert(subject.to_owned(), cutoff);
            }
        }
        self.remember(subject, Some(cutoff));
        Ok(())
    }

    /// Whether a token of `subject` issued at `issued_at` (Unix seconds) was revoked.
    pub async fn voids(&self, subject: &str, issued_at: i64) -> bool {
        self.cutoff(subject)
            .await
            .is_some_and(|cutoff| issued_at < cutoff)
    }

    async fn cutoff(&self, subject: &str) -> Option<i64> {
        let known = {
            let cache = lock(&self.cache);
            cache
                .get(subject)
                .map(|cached| (cached.cutoff, cached.read_at.elapsed() < self.trust_for))
        };
        if let Some((cutoff, true)) = known {
            return cutoff;
        }
        let read = match &self.store {
            Store::Redis(redis) => {
                let key = key_of(redis, subject);
                redis
                    .call(|mut connection| async move {
                        redis::cmd("GET")
                            .arg(&key)
                            .query_async::<Option<i64>>(&mut connection)
                            .await
                    })
                    .await
            }
            Store::Process => Ok(lock(&PROCESS_REVOCATIONS).get(subject).copied()),
        };
        match read {
            Ok(cutoff) => {
                self.remember(subject, cutoff);
                cutoff
            }
            Err(error) => {
                self.warn_unreadable(&error);
                known.and_then(|(cutoff, _)| cutoff)
            }
        }
    }

    fn remember(&self, subject: &str, cutoff: Option<i64>) {
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_LIMIT {
            let trust_for = self.trust_for;
            cache.retain(|_, cached| cached.read_at.elapsed() < trust_for);
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
        }
        cache.insert(
            subject.to_owned(),
            Cached {
                cutoff,
                read_at: Instant::now(),
            },
        );
    }

    fn warn_unreadable(&self, error: &redis::RedisError) {
        let mut last = lock(&self.last_warning);
        if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(%error, "revocations cannot be read; the last answers read stand");
        }
    }
}

fn key_of(redis: &RedisHandle, subject: &str) -> String {
    redis.key(&["auth", "revoked", subject])
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
