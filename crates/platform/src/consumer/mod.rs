//! The consumer runtime: how a service applies other services' events exactly once in
//! effect, in order per aggregate, without one stuck aggregate holding up the rest.
//!
//! - Messages are dispatched to one worker per key (aggregate id), which runs them one at a
//!   time through the [`Sequencer`](crate::sequencer::Sequencer); different keys run
//!   concurrently.
//! - A handler gets a transaction; the event id is recorded in `processed_events` in that
//!   same transaction, so a redelivered event has no second effect.
//! - `aggregate_seq` is applied strictly in order per (producer, aggregate): an early event
//!   is held in the consumer's database (`held_events`, its offset finished) until the gap
//!   before it is filled; a gap that outlasts `gap_timeout_ms` becomes a `gap` dead letter.
//! - Offsets are committed only up to the lowest message not yet finished in each
//!   partition, so a crash replays, never skips.
//! - Transient failures retry with backoff and jitter; poison messages go to
//!   `<topic>.dlq` and the `dead_letters` table, from where admins replay or skip them;
//!   until then the key's later events are held behind them, never applied past them. A handler
//!   that reports its downstream unavailable makes only its key wait, rescheduled in the
//!   sequencer, for as long as it takes.

mod apply;
pub mod dead_letters;
mod runtime;

pub use apply::{Applied, Applier, ApplyError};
pub use runtime::{ConsumerError, ConsumerHandle, ConsumerRuntime, ConsumerSettings};

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use events::{Envelope, Event};
use sea_orm::DatabaseTransaction;

/// Kafka headers the runtime adds when it dead-letters or replays a message.
pub mod headers {
    pub const DLQ_ERROR: &str = "dlq-error";
    pub const DLQ_ATTEMPTS: &str = "dlq-attempts";
    /// `topic/partition/offset` of the original message.
    pub const DLQ_ORIGIN: &str = "dlq-origin";
    pub const DLQ_CONSUMER: &str = "dlq-consumer";
    /// Set on a replayed dead letter: applied in its slot if that is still open (its key's
    /// later events held behind it), or again out of sequence if the slot has passed.
    pub const REPLAY: &str = "replay";
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HandlerError {
    /// Worth retrying soon (a deadlock, a timeout); dead-lettered after too many attempts.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help (a malformed payload, a broken invariant): dead-letter now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// A downstream service is down: retry this key later, for as long as it takes.
    #[error("downstream unavailable: {0}")]
    Unavailable(String),
}

/// An event as delivered: the envelope plus where it came from.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub envelope: Envelope,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// A replayed dead letter: its sequence slot has passed, apply it anyway.
    pub replay: bool,
}

impl IncomingEvent {
    pub fn open<E: Event>(&self) -> Result<E, HandlerError> {
        self.envelope
            .open::<E>()
            .map_err(|error| HandlerError::Permanent(error.to_string()))
    }
}

/// A typed handler for events of type `E`.
#[async_trait]
pub trait Handle<E: Event>: Send + Sync + 'static {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: E,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError>;
}

#[async_trait]
trait ErasedHandler: Send + Sync {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError>;
}

struct Typed<E, H> {
    handler: H,
    _event: std::marker::PhantomData<fn() -> E>,
}

#[async_trait]
impl<E: Event + Send + 'static, H: Handle<E>> ErasedHandler for Typed<E, H> {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        incoming: &IncomingEvent,
    ) -> Result<(), HandlerError> {
        let event = incoming.open::<E>()?;
        self.handler.handle(txn, event, incoming).await
    }
}

/// Which handler serves which event type. Types without a handler are acknowledged and
/// skipped: a consumer need not care about everything on a topic.
#[derive(Clone, Default)]
pub struct Handlers {
    by_type: HashMap<&'static str, Arc<dyn ErasedHandler>>,
}

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on<E: Event + Send + 'static, H: Handle<E>>(mut self, handler: H) -> Self {
        self.by_type.insert(
            E::EVENT_TYPE,
            Arc::new(Typed::<E, H> {
                handler,
                _event: std::marker::PhantomData,
            }),
        );
        self
    }

    fn get(&self, event_type: &str) -> Option<&Arc<dyn ErasedHandler>> {
        self.by_type.get(event_type)
    }
}
