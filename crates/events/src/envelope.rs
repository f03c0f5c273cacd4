//! Wrapping and unwrapping payloads, so that no service hand-builds an envelope and gets the
//! id, timestamp or type name subtly different from the others.

use chrono::{DateTime, Utc};
use prost::Message;
use uuid::Uuid;

use crate::Envelope;

/// A payload that can travel in an [`Envelope`].
pub trait Event: Message + Default {
    /// Stable type name, written to `Envelope::event_type`. Never change it for a live type.
    const EVENT_TYPE: &'static str;
    /// The topic the event is published to.
    const TOPIC: &'static str;
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("expected event type `{expected}`, got `{actual}`")]
    WrongType {
        expected: &'static str,
        actual: String,
    },
    #[error("payload of `{event_type}` is not valid protobuf: {reason}")]
    Malformed { event_type: String, reason: String },
}

impl Envelope {
    /// Wraps `event` with a fresh UUID v7 id and the current time.
    pub fn wrap<E: Event>(
        event: &E,
        aggregate_id: impl Into<String>,
        aggregate_seq: u64,
        producer: impl Into<String>,
        traceparent: impl Into<String>,
    ) -> Self {
        Self::wrap_at(
            event,
            aggregate_id,
            aggregate_seq,
            producer,
            traceparent,
            Utc::now(),
        )
    }

    /// As [`Envelope::wrap`], at a given time (for replays and tests).
    pub fn wrap_at<E: Event>(
        event: &E,
        aggregate_id: impl Into<String>,
        aggregate_seq: u64,
        producer: impl Into<String>,
        traceparent: impl Into<String>,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7().to_string(),
            event_type: E::EVENT_TYPE.to_owned(),
            aggregate_id: aggregate_id.into(),
            aggregate_seq,
            occurred_at: Some(prost_types::Timestamp {
                seconds: occurred_at.timestamp(),
                nanos: i32::try_from(occurred_at.timestamp_subsec_nanos()).unwrap_or(0),
            }),
            producer: producer.into(),
            traceparent: traceparent.into(),
            payload: event.encode_to_vec(),
        }
    }

    /// Decodes the payload as `E`, refusing an envelope of another type.
    pub fn open<E: Event>(&self) -> Result<E, DecodeError> {
        if self.event_type != E::EVENT_TYPE {
            return Err(DecodeError::WrongType {
                expected: E::EVENT_TYPE,
                actual: self.event_type.clone(),
            });
        }
        E::decode(self.payload.as_slice()).map_err(|error| DecodeError::Malformed {
            event_type: self.event_type.clone(),
            reason: error.to_string(),
        })
    }

    /// When the event happened, if the producer said.
    pub fn occurred_at(&self) -> Option<DateTime<Utc>> {
        let ts = self.occurred_at.as_ref()?;
        DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
    }
}
