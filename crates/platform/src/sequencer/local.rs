//! The sequencer inside one process: a fair (FIFO) async mutex per key, fences from a
//! counter seeded by the clock, and retry times in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::{Lease, Sequencer, SequencerError};

#[derive(Default)]
struct State {
    locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    notifies: HashMap<String, Arc<Notify>>,
    delayed: BTreeMap<(i64, String), ()>,
}

pub struct LocalSequencer {
    state: Arc<Mutex<State>>,
    fence: AtomicU64,
}

impl Default for LocalSequencer {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalSequencer {
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            fence: AtomicU64::new(first_fence()),
        }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state)
    }

    fn notify(&self, key: &str) -> Arc<Notify> {
        self.with_state(|state| state.notifies.entry(key.to_owned()).or_default().clone())
    }
}

#[async_trait]
impl Sequencer for LocalSequencer {
    async fn acquire(&self, key: &str) -> Result<Lease, SequencerError> {
        let lock = self.with_state(|state| state.locks.entry(key.to_owned()).or_default().clone());
        let guard = lock.lock_owned().await;
        let fence = self.fence.fetch_add(1, Ordering::SeqCst) + 1;
        let state = self.state.clone();
        let notify = self.notify(key);
        let key_owned = key.to_owned();
        Ok(Lease::new(
            key,
            fence,
            Arc::new(AtomicBool::new(false)),
            Box::new(move || {
                Box::pin(async move {
                    drop(guard);
                    let mut state = state
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    if let Some(lock) = state.locks.get(&key_owned)
                        && Arc::strong_count(lock) == 1
                    {
                        state.locks.remove(&key_owned);
                    }
                    drop(state);
                    notify.notify_waiters();
                })
            }),
        ))
    }

    async fn reschedule(&self, key: &str, at: DateTime<Utc>) -> Result<(), SequencerError> {
        self.with_state(|state| {
            state.delayed.retain(|(_, queued), ()| queued != key);
            state
                .delayed
                .insert((at.timestamp_millis(), key.to_owned()), ());
        });
        Ok(())
    }

    async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, SequencerError> {
        Ok(self.with_state(|state| {
            let due: Vec<(i64, String)> = state
                .delayed
                .keys()
                .take_while(|(at, _)| *at <= now.timestamp_millis())
                .take(limit)
                .cloned()
                .collect();
            for entry in &due {
                state.delayed.remove(entry);
            }
            due.into_iter().map(|(_, key)| key).collect()
        }))
    }

    async fn announce(&self, key: &str) {
        self.notify(key).notify_waiters();
    }

    async fn wait_for_change(&self, key: &str, timeout: Duration) {
        let notify = self.notify(key);
        let _ = tokio::time::timeout(timeout, notify.notified()).await;
    }
}

/// Microseconds since the epoch: tokens keep rising across restarts of the process.
fn first_fence() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0)
}
