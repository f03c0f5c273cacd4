//! What the portal tells the others: one `partner.events` event per partner report, keyed
//! by order id, with `aggregate_seq` from the order's stream counter, written to the outbox
//! in the transaction that records the report.

use events::partner as proto;
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use crate::domain::{Action, JobKind, PortalJob};

/// The `producer` in every envelope the portal writes.
pub const PRODUCER: &str = "partner-portal";

/// What a partner reports about one of its jobs, with what the report carries.
#[derive(Debug, Clone)]
pub enum Report {
    Accept,
    Decline {
        reason: String,
    },
    PickedUp,
    Delivered,
    Inspection {
        answers: Vec<proto::Answer>,
        notes: String,
    },
}

impl Report {
    pub fn action(&self) -> Action {
        match self {
            Self::Accept => Action::Accept,
            Self::Decline { .. } => Action::Decline,
            Self::PickedUp => Action::PickedUp,
            Self::Delivered => Action::Delivered,
            Self::Inspection { .. } => Action::InspectionReport,
        }
    }

    /// The note the job's history keeps.
    pub fn note(&self) -> Option<String> {
        match self {
            Self::Decline { reason } => Some(reason.clone()),
            Self::Inspection { notes, .. } if !notes.is_empty() => Some(notes.clone()),
            _ => None,
        }
    }
}

/// Publishes the event for `report`, which `partner_id` has just made about `job`, as the
/// order's event number `seq`.
pub async fn reported<C: ConnectionTrait>(
    db: &C,
    job: &PortalJob,
    partner_id: Uuid,
    report: Report,
    seq: u64,
) -> Result<(), DbErr> {
    let (order_id, job_id, partner_id) = (
        job.order_id.to_string(),
        job.id.to_string(),
        partner_id.to_string(),
    );
    let key = order_id.clone();
    match (report, job.kind) {
        (Report::Accept, _) => {
            let event = proto::JobAccepted {
                order_id,
                job_id,
                partner_id,
            };
            emit(db, &key, seq, &event).await
        }
        (Report::Decline { reason }, _) => {
            let event = proto::JobDeclined {
                order_id,
                job_id,
                partner_id,
                reason,
            };
            emit(db, &key, seq, &event).await
        }
        (Report::PickedUp, _) => {
            let event = proto::PickupReported {
                order_id,
                job_id,
                partner_id,
            };
            emit(db, &key, seq, &event).await
        }
        (Report::Delivered, JobKind::Return) => {
            let event = proto::ReturnDeliveryReported {
                order_id,
                job_id,
                partner_id,
            };
            emit(db, &key, seq, &event).await
        }
        (Report::Delivered, _) => {
            let event = proto::HubDeliveryReported {
                order_id,
                job_id,
                partner_id,
            };
            emit(db, &key, seq, &event).await
        }
        (Report::Inspection { answers, notes }, _) => {
            let event = proto::InspectionReported {
                order_id,
                job_id,
                partner_id,
                answers,
                notes,
            };
            emit(db, &key, seq, &event).await
        }
    }
}

async fn emit<C: ConnectionTrait, E: events::Event>(
    db: &C,
    key: &str,
    seq: u64,
    event: &E,
) -> Result<(), DbErr> {
    platform::outbox::publish(db, PRODUCER, key, seq, event)
        .await
        .map(drop)
}
