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
        self.shutdown_by(tokio::time::Instant::now() + grace).await;
    }

    /// Stops everything by `deadline`, whatever is gone. Consumers and loops stop together
    /// and get [`WORK_IN_HAND`] to finish what they hold; then the relay, which sends what
    /// they published meanwhile. A task still running past its time is aborted: its work
    /// is one transaction at a time and every event is deduplicated by id, so whoever runs
    /// next redoes it.
    pub async fn shutdown_by(mut self, deadline: tokio::time::Instant) {
        let consumers = std::mem::take(&mut self.consumers);
        let loops = std::mem::take(&mut self.loops);
        let loops_until = deadline.min(tokio::time::Instant::now() + WORK_IN_HAND);
        futures_util::future::join(
            futures_util::future::join_all(
                consumers
                    .into_iter()
                    .map(|consumer| consumer.shutdown_by(deadline)),
            ),
            stop_tasks(loops, loops_until),
        )
        .await;
        stop_tasks(std::mem::take(&mut self.relays), deadline).await;
    }

    /// Simulates a crash: consumers commit nothing more, loops are aborted.
    pub fn kill(mut self) {
        for consumer in std::mem::take(&mut self.consumers) {
            consumer.kill();
        }
        self.abort_all();
    }

    fn abort_all(&mut self) {
        for task in self.loops.drain(..).chain(self.relays.drain(..)) {
            task.stop.cancel();
            task.handle.abort();
        }
    }
}

/// How long an aborted task may take to be dropped (it only has to reach an await point).
const ABORT_WAIT: Duration = Duration::from_secs(1);

/// How long a stopping loop or consumer worker may go on with the work in its hands (a
/// query waiting for a connection, a call to another service) before it is dropped.
pub const WORK_IN_HAND: Duration = Duration::from_secs(2);

/// Tells every task to stop, waits for them until `until`, and aborts the rest.
async fn stop_tasks(tasks: Vec<Task>, until: tokio::time::Instant) {
    for task in &tasks {
        task.stop.cancel();
    }
    for mut task in tasks {
        match tokio::time::timeout_at(until, &mut task.handle).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(task = task.name, %error, "ended abnormally"),
            Err(_) => {
                tracing::warn!(task = task.name, "did not stop in time; aborted");
                task.handle.abort();
                let _ = tokio::time::timeout(ABORT_WAIT, task.handle).await;
            }
        }
    }
}

/// Dropped without [`Background::shutdown`] (the service's future was dropped, a test
/// ended): everything stops at once, as in a crash, instead of running on unowned.
impl Drop for Background {
    fn drop(&mut self) {
        self.consumers.clear();
        self.abort_all();
    }
}
