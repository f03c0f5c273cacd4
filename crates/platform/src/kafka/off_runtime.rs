//! Kafka clients wait in their drop: a consumer leaves its group and polls until the
//! coordinator answers, a producer purges and flushes. With the broker gone that wait has
//! no end, and on an async runtime it stalls every task of the thread and the runtime's own
//! shutdown (a test that never ends, a pod killed at its grace period). So every client the
//! services hold is dropped on a thread of its own, and every blocking call made while
//! stopping runs there too, awaited with a deadline.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

/// A Kafka client whose drop never blocks the thread that drops it: the client is handed
/// to a thread of its own, which may finish after the process has stopped caring.
pub struct OffRuntime<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> OffRuntime<T> {
    pub fn new(client: T) -> Self {
        Self(Some(client))
    }

    /// The client itself, for a caller that closes it with [`on_own_thread`].
    pub fn into_inner(mut self) -> T {
        match self.0.take() {
            Some(client) => client,
            // Only `drop` and this method take the client, and both consume `self`.
            None => unreachable!("an OffRuntime always holds its client until consumed"),
        }
    }
}

impl<T: Send + 'static> Deref for OffRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(client) => client,
            None => unreachable!("an OffRuntime always holds its client until consumed"),
        }
    }
}

impl<T: Send + 'static> DerefMut for OffRuntime<T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.0 {
            Some(client) => client,
            None => unreachable!("an OffRuntime always holds its client until consumed"),
        }
    }
}

impl<T: Send + 'static> Drop for OffRuntime<T> {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            detach("kafka-client-drop", move || drop(client));
        }
    }
}

/// Runs `work` on a thread of its own and waits for it at most `limit`. Past the limit the
/// thread is left to finish on its own and `None` is returned: the caller goes on stopping.
pub async fn on_own_thread<T, F>(what: &'static str, limit: Duration, work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    detach(what, move || {
        let _ = done.send(work());
    });
    match tokio::time::timeout(limit, result).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(_)) => None,
        Err(_) => {
            tracing::warn!(
                what,
                ?limit,
                "gave up waiting; it goes on in the background"
            );
            None
        }
    }
}

fn detach(what: &'static str, work: impl FnOnce() + Send + 'static) {
    // Without a thread the closure is dropped here, and with it the client: the one case
    // left where the caller waits.
    if let Err(error) = std::thread::Builder::new()
        .name(what.to_owned())
        .spawn(work)
    {
        tracing::warn!(what, %error, "no thread could be started for it");
    }
}
