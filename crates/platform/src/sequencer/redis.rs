//! The sequencer across instances, coordinated through Redis.
//!
//! Per key: `lock` (value = fencing token, with a TTL renewed by the holder), `queue` (FIFO
//! list of waiter ids; a waiter whose heartbeat key expired is dropped from the head so a
//! crashed waiter cannot block the line), `fence` (the last token, kept for a day). Waiters
//! sleep until a release is published on the wake channel, with a timeout as a safety net
//! for a lost message or an expired holder. Inside one process, waiters for a key first
//! queue on a fair local mutex, so Redis sees one waiter per key per instance.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use tokio::sync::{Notify, OnceCell};
use uuid::Uuid;

use super::{Lease, Sequencer, SequencerError};

/// Takes the lock when nobody holds or waits for it (the common case: a few commands), and
/// otherwise joins the queue, drops dead heads, and takes the lock when first in line.
/// Returns the new fencing token, or 0 when it is not this waiter's turn; a waiter left in
/// the queue gets its heartbeat here too, so an uncontended acquire is one round trip.
///
/// A token is above the key's last one and never below Redis' own clock in microseconds,
/// so tokens keep rising when Redis restarts empty, whatever the callers' clocks say. The
/// last token is kept for a day after its use: by then the clock has passed it.
const ACQUIRE: &str = r#"
local lock, queue, fence_key = KEYS[1], KEYS[2], KEYS[3]
local me, ttl, waiter_prefix, heartbeat_ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function take_lock()
  local now = redis.call('TIME')
  local fence = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local last = tonumber(redis.call('GET', fence_key) or '0')
  if fence <= last then fence = last + 1 end
  redis.call('SET', fence_key, fence, 'PX', 86400000)
  redis.call('SET', lock, fence, 'PX', ttl)
  return fence
end
if redis.call('EXISTS', lock, queue) == 0 then return take_lock() end
if not redis.call('LPOS', queue, me) then redis.call('RPUSH', queue, me) end
while true do
  local head = redis.call('LINDEX', queue, 0)
  if (not head) or head == me or redis.call('EXISTS', waiter_prefix .. head) == 1 then break end
  redis.call('LPOP', queue)
end
if redis.call('LINDEX', queue, 0) == me and redis.call('EXISTS', lock) == 0 then
  local fence = take_lock()
  redis.call('LPOP', queue)
  redis.call('PEXPIRE', queue, 86400000)
  redis.call('DEL', waiter_prefix .. me)
  return fence
end
redis.call('SET', waiter_prefix .. me, 1, 'PX', heartbeat_ttl)
return 0
"#;

/// See [`RedisSequencer::giving_up_after`].
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(2);

/// The scripts, hashed once: `EVALSHA` from the first call on.
static ACQUIRE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACQUIRE));
static RENEW_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RENEW));
static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE));
static TAKE_DUE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE_DUE));

const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Gives the lock back and wakes the key's waiters, if it has any: with nobody queued (the
/// common case) there is no message for every instance's subscriber to handle. A waiter
/// that queues after this runs finds the lock free; consumers announce changes themselves.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if redis.call('LLEN', KEYS[3]) > 0 then
    redis.call('PUBLISH', KEYS[2], ARGV[2])
  end
  return 1
end
return 0
"#;

const TAKE_DUE: &str = r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, key in ipairs(due) do redis.call('ZREM', KEYS[1], key) end
return due
"#;

fn unavailable(error: redis::RedisError) -> SequencerError {
    SequencerError::Unavailable(error.to_string())
}

struct Shared {
    client: redis::Client,
    prefix: String,
    connection: OnceCell<ConnectionManager>,
    notifies: Mutex<HashMap<String, Arc<Notify>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The leases this process holds, by lock key: one task renews them all, so taking a
    /// lease spawns nothing.
    leases: Mutex<HashMap<String, HeldLease>>,
}

struct HeldLease {
    fence: u64,
    lost: Arc<AtomicBool>,
}

impl Shared {
    fn key(&self, key: &str, part: &str) -> String {
        format!("{}:seq:{{{key}}}:{part}", self.prefix)
    }

    fn wake_channel(&self) -> String {
        format!("{}:seq:wake", self.prefix)
    }

    async fn connection(&self) -> Result<ConnectionManager, SequencerError> {
        self.connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(1))
                    .set_response_timeout(Duration::from_secs(2))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .cloned()
            .map_err(unavailable)
    }

    fn notify(&self, key: &str) -> Arc<Notify> {
        let mut notifies = self
            .notifies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        notifies.entry(key.to_owned()).or_default().clone()
    }

    /// Drops `key`'s wake-up slot once nobody else waits on it, so the map does not grow
    /// with every key ever seen.
    fn forget_notify(&self, key: &str, notify: Arc<Notify>) {
        let mut notifies = self
            .notifies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // One reference in the map, one here.
        if Arc::strong_count(&notify) == 2 {
            notifies.remove(key);
        }
    }
}

pub struct RedisSequencer {
    shared: Arc<Shared>,
    ttl: Duration,
    wait_timeout: Duration,
    give_up_after: Duration,
    subscriber: tokio::task::JoinHandle<()>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for RedisSequencer {
    fn drop(&mut self) {
        self.subscriber.abort();
        self.renewer.abort();
    }
}

impl RedisSequencer {
    /// `ttl` bounds how long a crashed holder blocks its key. Connects lazily: a Redis that
    /// is down now only pauses work until it is back.
    pub fn new(url: &str, prefix: &str, ttl: Duration) -> Result<Self, SequencerError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let shared = Arc::new(Shared {
            client,
            prefix: prefix.to_owned(),
            connection: OnceCell::new(),
            notifies: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
        });
        let subscriber = tokio::spawn(listen_for_wakes(shared.clone()));
        let renewer = tokio::spawn(renew_leases(shared.clone(), ttl));
        Ok(Self {
            shared,
            ttl,
            wait_timeout: (ttl / 2).min(Duration::from_secs(1)),
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            subscriber,
            renewer,
        })
    }

    /// How long `acquire` keeps trying while Redis does not answer before it returns
    /// [`SequencerError::Unavailable`]: an API call answers 503 `coordinator_unavailable`
    /// in about this time instead of hanging, and background work retries later. Waiting
    /// for a key another holder has is not bounded by this: that is normal work.
    pub fn giving_up_after(mut self, give_up_after: Duration) -> Self {
        self.give_up_after = give_up_after.max(Duration::from_millis(1));
        self
    }

    async fn try_acquire(&self, key: &str, waiter: &str) -> Result<u64, SequencerError> {
        let mut connection = self.shared.connection().await?;
        let heartbeat_ttl = u64::try_from((self.wait_timeout * 4).as_millis()).unwrap_or(u64::MAX);
        ACQUIRE_SCRIPT
            .key(self.shared.key(key, "lock"))
            .key(self.shared.key(key, "queue"))
            .key(self.shared.key(key, "fence"))
            .arg(waiter)
            .arg(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX))
            .arg(format!("{}:seq:waiter:", self.shared.prefix))
            .arg(heartbeat_ttl)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl Sequencer for RedisSequencer {
    async fn acquire(&self, key: &str) -> Result<Lease, SequencerError> {
        let local = lock(&self.shared.locks)
            .entry(key.to_owned())
            .or_default()
            .clone();
        let local_guard = local.lock_owned().await;
        let waiter = Uuid::new_v4().to_string();
        let notify = self.shared.notify(key);
        let mut retry = crate::retry::Backoff::up_to(Duration::from_secs(2));
        // Set while Redis does not answer: when that began, plus `give_up_after`.
        let mut give_up_at: Option<tokio::time::Instant> = None;
        let taken = loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let attempt_started = tokio::time::Instant::now();
            let deadline = give_up_at.unwrap_or(attempt_started + self.give_up_after);
            let attempt = tokio::time::timeout_at(deadline, self.try_acquire(key, &waiter))
                .await
                .unwrap_or_else(|_| {
                    Err(SequencerError::Unavailable(format!(
                        "Redis did not answer within {:?}",
                        self.give_up_after
                    )))
                });
            match attempt {
                Ok(0) => {
                    retry.reset();
                    give_up_at = None;
                    let _ = tokio::time::timeout(self.wait_timeout, notified).await;
                }
                Ok(fence) => break Ok(fence),
                Err(error) => {
                    let give_up_at =
                        *give_up_at.get_or_insert(attempt_started + self.give_up_after);
                    let now = tokio::time::Instant::now();
                    if now >= give_up_at {
                        // Our place in the queue, if we had one, lapses with its heartbeat.
                        tracing::warn!(%error, %key, "sequencer unavailable: Redis does not answer");
                        break Err(error);
                    }
                    let pause = retry.next_delay().min(give_up_at - now);
                    tracing::warn!(%error, %key, retry_in = ?pause, "sequencer paused: Redis unavailable");
                    tokio::time::sleep(pause).await;
                }
            }
        };

        self.shared.forget_notify(key, notify);
        let fence = taken?;
        let lost = Arc::new(AtomicBool::new(false));
        let lock_key = self.shared.key(key, "lock");
        lock(&self.shared.leases).insert(
            lock_key.clone(),
            HeldLease {
                fence,
                lost: lost.clone(),
            },
        );
        let shared = self.shared.clone();
        let key_owned = key.to_owned();
        Ok(Lease::new(
            key,
            fence,
            lost,
            Box::new(move || {
                Box::pin(async move {
                    lock(&shared.leases).remove(&lock_key);
                    let released: Result<(), SequencerError> = async {
                        let mut connection = shared.connection().await?;
                        let _: i64 = RELEASE_SCRIPT
                            .key(&lock_key)
                            .key(shared.wake_channel())
                            .key(shared.key(&key_owned, "queue"))
                            .arg(fence)
                            .arg(&key_owned)
                            .invoke_async(&mut connection)
                            .await
                            .map_err(unavailable)?;
                        Ok(())
                    }
                    .await;
                    if let Err(error) = released {
                        // The lock expires with its TTL; the fence keeps late writes out.
                        tracing::warn!(%error, key = %key_owned, "releasing a lease failed");
                    }
                    drop(local_guard);
                    let mut locks = lock(&shared.locks);
                    if locks
                        .get(&key_owned)
                        .is_some_and(|lock| Arc::strong_count(lock) == 1)
                    {
                        locks.remove(&key_owned);
                    }
                })
            }),
        ))
    }

    async fn reschedule(&self, key: &str, at: DateTime<Utc>) -> Result<(), SequencerError> {
        let mut connection = self.shared.connection().await?;
        connection
            .zadd::<_, _, _, ()>(
                format!("{}:seq:delayed", self.shared.prefix),
                key,
                at.timestamp_millis(),
            )
            .await
            .map_err(unavailable)
    }

    async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, SequencerError> {
        let mut connection = self.shared.connection().await?;
        TAKE_DUE_SCRIPT
            .key(format!("{}:seq:delayed", self.shared.prefix))
            .arg(now.timestamp_millis())
            .arg(limit)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn announce(&self, key: &str) {
        // Waiters in this process need no round trip.
        self.shared.notify(key).notify_waiters();
        if let Ok(mut connection) = self.shared.connection().await {
            let published: Result<i64, _> =
                connection.publish(self.shared.wake_channel(), key).await;
            if let Err(error) = published {
                tracing::debug!(%error, "announcing a change failed; waiters time out instead");
            }
        }
    }

    async fn wait_for_change(&self, key: &str, timeout: Duration) {
        let notify = self.shared.notify(key);
        let _ = tokio::time::timeout(timeout, notify.notified()).await;
        self.shared.forget_notify(key, notify);
    }
}

/// Renews every lease this process holds, a third of the TTL apart; a lease that expired
/// before its renewal is marked lost (another holder may exist by now) and forgotten.
async fn renew_leases(shared: Arc<Shared>, ttl: Duration) {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    loop {
        tokio::time::sleep(ttl / 3).await;
        let held: Vec<(String, u64)> = lock(&shared.leases)
            .iter()
            .map(|(lock_key, lease)| (lock_key.clone(), lease.fence))
            .collect();
        if held.is_empty() {
            continue;
        }
        let Ok(connection) = shared.connection().await else {
            continue;
        };
        let renewals = held.into_iter().map(|(lock_key, fence)| {
            let mut connection = connection.clone();
            async move {
                let renewed: Result<i64, _> = RENEW_SCRIPT
                    .key(&lock_key)
                    .arg(fence)
                    .arg(ttl_ms)
                    .invoke_async(&mut connection)
                    .await;
                (lock_key, fence, renewed)
            }
        });
        for (lock_key, fence, renewed) in futures_util::future::join_all(renewals).await {
            match renewed {
                Ok(1) => {}
                Ok(_) => {
                    let mut leases = lock(&shared.leases);
                    // Only if it is still the same lease: it may have been released meanwhile.
                    if leases
                        .get(&lock_key)
                        .is_some_and(|lease| lease.fence == fence)
                        && let Some(lease) = leases.remove(&lock_key)
                    {
                        tracing::warn!(lock = %lock_key, "lease lost: it expired before it could be renewed");
                        lease.lost.store(true, Ordering::SeqCst);
                    }
                }
                Err(error) => tracing::debug!(%error, "renewing a lease failed; retrying"),
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One pub/sub connection per process: a release anywhere wakes the waiters here.
async fn listen_for_wakes(shared: Arc<Shared>) {
    let mut retry = crate::retry::Backoff::up_to(Duration::from_secs(2));
    loop {
        let subscribed = async {
            let mut pubsub = shared.client.get_async_pubsub().await?;
            pubsub.subscribe(shared.wake_channel()).await?;
            Ok::<_, redis::RedisError>(pubsub)
        }
        .await;
        match subscribed {
            Ok(mut pubsub) => {
                retry.reset();
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    if let Ok(key) = message.get_payload::<String>() {
                        let notify = {
                            let notifies =
                                shared.notifies.lock().unwrap_or_else(|p| p.into_inner());
                            notifies.get(&key).cloned()
                        };
                        if let Some(notify) = notify {
                            notify.notify_waiters();
                        }
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "wake subscription unavailable"),
        }
        let pause = retry.next_delay();
        tokio::time::sleep(pause).await;
    }
}
