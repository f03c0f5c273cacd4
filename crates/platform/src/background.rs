//! The work a service does besides answering HTTP: the outbox relay, consumers, processors
//! and housekeeping. Stopping happens in dependency order, so nothing a late task writes
//! is stranded: consumers stop first (and commit their offsets), then the service's own
//! loops, and the relay last, flushing what they published.
//!
//! Background work gives way to requests ([`RequestLoad`]): on a peak, accepting orders
//! keeps the cores and the database, and what the orders set off catches up after it.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
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

    /// A reading each instance takes for itself every `every` (a gauge every instance must
    /// report, such as stuck orders): not work owed once across instances, so not due work.
    pub fn every<F, Fut>(&mut self, name: &'static str, every: Duration, read: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, move |stop| async move {
            loop {
                read().await;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
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

/// The requests one service is serving now, which its background work (the relay,
/// consumers, due work) gives way to: above `yield_above` requests in flight each unit of
/// background work waits for them to fall, up to [`LONGEST_YIELD`]. Clones share the count.
#[derive(Clone)]
pub struct RequestLoad(Arc<Load>);

struct Load {
    in_flight: AtomicUsize,
    yield_above: usize,
    quieter: Notify,
}

/// The longest one unit of background work waits for requests: through a long peak it
/// still moves, slowly, and catches up after it.
pub const LONGEST_YIELD: Duration = Duration::from_millis(250);

impl RequestLoad {
    /// Background work yields above `yield_above` requests in flight; 0: never.
    pub fn new(yield_above: usize) -> Self {
        Self(Arc::new(Load {
            in_flight: AtomicUsize::new(0),
            yield_above,
            quieter: Notify::new(),
        }))
    }

    /// Background work that never waits (tools, tests of the work itself).
    pub fn never_yield() -> Self {
        Self::new(0)
    }

    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::Acquire)
    }

    /// Counts a request until the place is dropped, if fewer than `limit` are in flight.
    pub(crate) fn enter(&self, limit: usize) -> Option<RequestPlace> {
        self.0
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                (now < limit).then_some(now + 1)
            })
            .ok()
            .map(|_| RequestPlace(self.clone()))
    }

    /// Waits while the service is busier than `yield_above`, at most [`LONGEST_YIELD`].
    pub async fn give_way(&self) {
        if self.0.yield_above == 0 {
            return;
        }
        let deadline = tokio::time::Instant::now() + LONGEST_YIELD;
        loop {
            let mut quieter = pin!(self.0.quieter.notified());
            quieter.as_mut().enable();
            if self.in_flight() <= self.0.yield_above {
                return;
            }
            if tokio::time::timeout_at(deadline, quieter).await.is_err() {
                return;
            }
        }
    }
}

/// A request's place in the count; dropping it (the response is done) gives it back.
pub(crate) struct RequestPlace(RequestLoad);

impl Drop for RequestPlace {
    fn drop(&mut self) {
        let load = &self.0.0;
        let before = load.in_flight.fetch_sub(1, Ordering::AcqRel);
        if load.yield_above > 0 && before == load.yield_above + 1 {
            load.quieter.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn background_work_waits_while_requests_are_over_the_mark_and_goes_on_as_they_finish() {
        let load = RequestLoad::new(1);
        let first = load.enter(usize::MAX);
        let second = load.enter(usize::MAX);
        let started = tokio::time::Instant::now();
        let waiting = tokio::spawn({
            let load = load.clone();
            async move { load.give_way().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !waiting.is_finished(),
            "two requests in flight, one allowed"
        );
        drop(second);
        waiting.await.ok();
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        drop(first);
    }

    #[tokio::test(start_paused = true)]
    async fn background_work_waits_no_longer_than_the_longest_yield() {
        let load = RequestLoad::new(1);
        let _places: Vec<_> = (0..5).map(|_| load.enter(usize::MAX)).collect();
        let started = tokio::time::Instant::now();
        load.give_way().await;
        assert_eq!(started.elapsed(), LONGEST_YIELD);
    }

    #[tokio::test(start_paused = true)]
    async fn background_work_that_never_yields_does_not_wait() {
        let load = RequestLoad::never_yield();
        let _places: Vec<_> = (0..5).map(|_| load.enter(usize::MAX)).collect();
        let started = tokio::time::Instant::now();
        load.give_way().await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[test]
    fn a_full_count_refuses_and_a_finished_request_gives_its_place_back() {
        let load = RequestLoad::never_yield();
        let first = load.enter(1);
        assert!(first.is_some());
        assert!(load.enter(1).is_none());
        drop(first);
        assert_eq!(load.in_flight(), 0);
        assert!(load.enter(1).is_some());
    }
}
