//! The per-key sequencer: everything for one key (an order, say) runs one at a time, in
//! arrival order, whichever instance, topic or API call it comes from.
//!
//! Redis coordinates: a lock per key carrying a fencing token, a FIFO queue of waiters woken
//! by pub/sub (no spinning), a TTL renewed while the holder works, and a compare-and-delete
//! release. Redis is only the coordinator: the database is the backstop, because every
//! write checks the aggregate's version or the fencing token, so a holder that stalled past
//! its TTL cannot commit. [`LocalSequencer`] is the same contract inside one process, for
//! the single-process embedded run.

mod local;
mod redis;

pub use self::local::LocalSequencer;
pub use self::redis::RedisSequencer;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    /// The coordinator cannot be reached; callers pause and retry, nothing is lost.
    #[error("the sequencer's coordinator is unavailable: {0}")]
    Unavailable(String),
}

/// The right to run work for one key, until released or expired.
pub struct Lease {
    key: String,
    fence: u64,
    lost: Arc<AtomicBool>,
    release: Option<Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>>,
}

impl Lease {
    pub(crate) fn new(
        key: &str,
        fence: u64,
        lost: Arc<AtomicBool>,
        release: Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>,
    ) -> Self {
        Self {
            key: key.to_owned(),
            fence,
            lost,
            release: Some(release),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Strictly increasing per key, across instances and coordinator restarts. Writes that
    /// record it refuse any later write carrying a smaller one.
    pub fn fence(&self) -> u64 {
        self.fence
    }

    /// True once the lease could not be renewed: another holder may exist by now.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub async fn release(mut self) {
        if let Some(release) = self.release.take() {
            release().await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(release) = self.release.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(release());
        }
    }
}

#[async_trait]
pub trait Sequencer: Send + Sync + 'static {
    /// Waits for `key`'s turn, first come first served, and holds it.
    async fn acquire(&self, key: &str) -> Result<Lease, SequencerError>;

    /// Asks for `key` to be retried at `at` (its downstream is unavailable); only that key
    /// waits, others flow.
    async fn reschedule(&self, key: &str, at: DateTime<Utc>) -> Result<(), SequencerError>;

    /// Takes up to `limit` keys whose retry time has come.
    async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, SequencerError>;

    /// Tells every instance something changed for `key` (released, applied, due).
    async fn announce(&self, key: &str);

    /// Waits until [`Sequencer::announce`] for `key` or `timeout`, whichever comes first.
    async fn wait_for_change(&self, key: &str, timeout: Duration);
}

/// Runs `work` holding `key`'s lease, and releases it afterwards.
pub async fn run_in_sequence<S, T, F, Fut>(
    sequencer: &S,
    key: &str,
    work: F,
) -> Result<T, SequencerError>
where
    S: Sequencer + ?Sized,
    F: FnOnce(u64) -> Fut,
    Fut: Future<Output = T>,
{
    let lease = sequencer.acquire(key).await?;
    let output = work(lease.fence()).await;
    lease.release().await;
    Ok(output)
}

/// The sequencer a service runs with: Redis when `redis.url` is set (several instances
/// coordinate), otherwise the in-process one (a single instance, the embedded run).
/// `scope` separates services sharing one Redis.
pub fn from_settings(
    redis: &crate::config::RedisSettings,
    settings: &crate::config::SequencerSettings,
    scope: &str,
) -> Result<Arc<dyn Sequencer>, SequencerError> {
    use secrecy::ExposeSecret;
    match redis
        .url
        .as_ref()
        .filter(|url| !url.expose_secret().trim().is_empty())
    {
        Some(url) => {
            // `<prefix>:<scope>`; the sequencer adds `:seq:…` itself.
            let prefix = format!("{}:{scope}", redis.key_prefix.trim_end_matches(':'));
            let ttl = Duration::from_millis(settings.lease_ttl_ms);
            Ok(Arc::new(
                RedisSequencer::new(url.expose_secret(), &prefix, ttl)?
                    .giving_up_after(Duration::from_millis(settings.unavailable_after_ms)),
            ))
        }
        None => Ok(Arc::new(LocalSequencer::new())),
    }
}
