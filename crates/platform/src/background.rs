//! The work a service does besides answering HTTP: the outbox relay, consumers, processors
//! and housekeeping. Stopping happens in dependency order, so nothing a late task writes
//! is stranded: consumers stop first (and commit their offsets), then the service's own
//! loops, and the relay last, flushing what they published.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::consumer::ConsumerHandle;

struct Task {
    name: &'static str,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

#[derive(Default)]
pub struct Background {
    consumers: Vec<ConsumerHandle>,
    loops: Vec<Task>,
    relays: Vec<Task>,
}

impl Background {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn consumer(&mut self, handle: ConsumerHandle) {
        self.consumers.push(handle);
    }

    /// A loop of the service's own (a processor, a pruner) that ends when told to.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, run: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let handle = tokio::spawn(run(stop.clone()));
        self.loops.push(Task { name, stop, handle });
    }

    /// The outbox relay: stopped last, after everything that may still publish.
    pub fn relay(&mut self, relay: crate::outbox::OutboxRelay) {
        let stop = CancellationToken::new();
        let handle = tokio::spawn(relay.run(stop.clone()));
        self.relays.push(Task {
            name: "outbox relay",
            stop,
            handle,
        });
    }

    /// Stops everything within `grace` in total: an orchestrator's kill deadline is one
    /// number, so a slow consumer must not push the relay's flush past it.
    pub async fn shutdown(self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        for consumer in self.consumers {
            consumer.shutdown(left()).await;
        }
        for group in [self.loops, self.relays] {
            for task in &group {
                task.stop.cancel();
            }
            for task in group {
                match tokio::time::timeout_at(deadline, task.handle).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!(task = task.name, %error, "ended abnormally"),
                    Err(_) => {
                        tracing::warn!(task = task.name, "did not stop within the grace period")
                    }
                }
            }
        }
    }

    /// Simulates a crash: consumers commit nothing more, loops are aborted.
    pub fn kill(self) {
        for consumer in self.consumers {
            consumer.kill();
        }
        for task in self.loops.into_iter().chain(self.relays) {
            task.handle.abort();
        }
    }
}
