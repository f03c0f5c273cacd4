//! The order lifecycle as pure rules: which step is legal in which state and where it leads
//! ([`OrderStatus::after`]), and what it changes in the order ([`OrderRecord::after`]).
//! Everything that moves an order (the API, the processor, fulfilment's events) goes
//! through them, so the rules live in one place and are unit-tested without a database.

mod order;
mod request;

pub use order::{NewOrder, OrderRecord};
pub use request::{
    ACCOUNT_NUMBER_DIGITS, IFSC_CHARS, MAX_ADDRESS_CHARS, MAX_DAYS_AHEAD, MAX_DETAIL_CHARS,
};
pub use request::{
    PayoutInstructions, PayoutMethod, PickupRequest, SlotWindow, Violation, Violations, is_pincode,
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

platform::named_enum! {
    #[derive(Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[strum(serialize_all = "snake_case")]
    pub enum OrderStatus {
        Received,
        Confirmed,
        PickupScheduled,
        PickedUp,
        Inspected,
        AwaitingShopper,
        Returning,
        Returned,
        Completed,
        Rejected,
        Cancelled,
    }
}

impl OrderStatus {
    /// Nothing moves an order out of these.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Returned | Self::Completed | Self::Rejected | Self::Cancelled
        )
    }

    /// States the processor acts on by itself (the others wait for a person or an event).
    pub fn needs_processing(self) -> bool {
        matches!(self, Self::Received | Self::Inspected)
    }

    /// Where `step` takes an order in this state, or why it cannot.
    pub fn after(self, step: &Step) -> Result<OrderStatus, IllegalTransition> {
        use OrderStatus::*;
        let next = match (self, step) {
            (Received, Step::Confirm { .. }) => Confirmed,
            (Received, Step::Reject { .. }) => Rejected,
            // Before the device leaves the shopper, either side may call it off.
            (Received | Confirmed | PickupScheduled, Step::Cancel { .. }) => Cancelled,
            (Confirmed, Step::SchedulePickup { .. }) => PickupScheduled,
            (PickupScheduled, Step::PickUp) => PickedUp,
            (
                PickedUp,
                Step::Inspect {
                    lower_than_quoted: false,
                    ..
                },
            ) => Inspected,
            (
                PickedUp,
                Step::Inspect {
                    lower_than_quoted: true,
                    ..
                },
            ) => AwaitingShopper,
            (AwaitingShopper, Step::AcceptRevisedPrice) => Inspected,
            (AwaitingShopper, Step::RefuseRevisedPrice) => Returning,
            (Inspected, Step::Complete { .. }) => Completed,
            (Returning, Step::Return) => Returned,
            _ => {
                return Err(IllegalTransition {
                    current: self,
                    step: step.name(),
                });
            }
        };
        Ok(next)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use platform::values::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Shopper,
    Admin,
}

/// One move of the lifecycle, with what it carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Confirm {
        variant_id: Uuid,
        quoted: Money,
    },
    Reject {
        reason: String,
    },
    Cancel {
        by: Actor,
        reason: String,
    },
    SchedulePickup {
        partner_id: Uuid,
    },
    PickUp,
    Inspect {
        final_price: Money,
        lower_than_quoted: bool,
    },
    AcceptRevisedPrice,
    RefuseRevisedPrice,
    Complete {
        paid: Money,
        payout_reference: String,
    },
    Return,
}

impl Step {
    /// The name the timeline and problem responses use.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Confirm { .. } => "confirm",
            Self::Reject { .. } => "reject",
            Self::Cancel { .. } => "cancel",
            Self::SchedulePickup { .. } => "schedule_pickup",
            Self::PickUp => "pick_up",
            Self::Inspect { .. } => "inspect",
            Self::AcceptRevisedPrice => "accept_revised_price",
            Self::RefuseRevisedPrice => "refuse_revised_price",
            Self::Complete { .. } => "complete",
            Self::Return => "return",
        }
    }

    /// An inspection result: a price below the quote needs the shopper's consent; an equal or
    /// higher one pays the quoted price (the shopper never gets less than agreed for the
    /// condition they declared, and the platform does not pay more than it offered).
    pub fn inspection(quoted: Money, observed: Money) -> Step {
        let lower = observed.amount_minor < quoted.amount_minor;
        Step::Inspect {
            final_price: if lower { observed } else { quoted },
            lower_than_quoted: lower,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {step} an order that is {current}")]
pub struct IllegalTransition {
    pub current: OrderStatus,
    pub step: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    fn cancel() -> Step {
        Step::Cancel {
            by: Actor::Shopper,
            reason: String::new(),
        }
    }

    #[test]
    fn the_happy_path_reaches_completed() {
        let steps = [
            Step::Confirm {
                variant_id: Uuid::nil(),
                quoted: Money::inr(100),
            },
            Step::SchedulePickup {
                partner_id: Uuid::nil(),
            },
            Step::PickUp,
            Step::inspection(Money::inr(100), Money::inr(100)),
            Step::Complete {
                paid: Money::inr(100),
                payout_reference: "p".into(),
            },
        ];
        let end = steps
            .iter()
            .try_fold(OrderStatus::Received, |status, step| status.after(step));
        assert_eq!(end, Ok(OrderStatus::Completed));
    }

    #[test]
    fn a_lower_inspection_price_waits_for_the_shopper_and_a_higher_one_pays_the_quote() {
        assert_eq!(
            OrderStatus::PickedUp.after(&Step::inspection(Money::inr(100), Money::inr(60))),
            Ok(OrderStatus::AwaitingShopper)
        );
        assert_eq!(
            Step::inspection(Money::inr(100), Money::inr(150)),
            Step::Inspect {
                final_price: Money::inr(100),
                lower_than_quoted: false
            }
        );
        assert_eq!(
            OrderStatus::AwaitingShopper.after(&Step::RefuseRevisedPrice),
            Ok(OrderStatus::Returning)
        );
        assert_eq!(
            OrderStatus::Returning.after(&Step::Return),
            Ok(OrderStatus::Returned)
        );
    }

    #[test]
    fn cancelling_is_allowed_only_before_the_device_is_picked_up() {
        for status in [
            OrderStatus::Received,
            OrderStatus::Confirmed,
            OrderStatus::PickupScheduled,
        ] {
            assert_eq!(status.after(&cancel()), Ok(OrderStatus::Cancelled));
        }
        for status in OrderStatus::iter() {
            if !matches!(
                status,
                OrderStatus::Received | OrderStatus::Confirmed | OrderStatus::PickupScheduled
            ) {
                assert_eq!(
                    status.after(&cancel()),
                    Err(IllegalTransition {
                        current: status,
                        step: "cancel"
                    })
                );
            }
        }
    }

    #[test]
    fn final_states_accept_no_step() {
        let steps = [
            cancel(),
            Step::PickUp,
            Step::Return,
            Step::AcceptRevisedPrice,
            Step::SchedulePickup {
                partner_id: Uuid::nil(),
            },
        ];
        for status in OrderStatus::iter().filter(|s| s.is_final()) {
            for step in &steps {
                assert!(status.after(step).is_err(), "{status} accepted {step:?}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::iter() {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("shipped"), None);
    }
}
