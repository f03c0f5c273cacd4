//! What the quote service tells other services on `quote.events`, built from the domain
//! quote so the event always matches the state committed with it.

use events::quote::{Money as MoneyEvent, QuoteIssued, QuoteLocked};
use uuid::Uuid;

use crate::domain::{Money, Quote};

/// The `producer` of every quote event.
pub const PRODUCER: &str = "quote";

fn money(money: &Money) -> MoneyEvent {
    MoneyEvent {
        amount_minor: money.amount_minor,
        currency: money.currency.as_str().to_owned(),
    }
}

pub fn quote_issued(quote: &Quote) -> QuoteIssued {
    QuoteIssued {
        quote_id: quote.id.to_string(),
        shopper_id: quote.shopper_id.clone(),
        variant_id: quote.variant_id.to_string(),
        model_id: quote.model_id.to_string(),
        price: Some(money(&quote.price)),
        pincode: quote.pincode.clone(),
        expires_at: quote.expires_at.to_rfc3339(),
    }
}

pub fn quote_locked(quote: &Quote, order_id: Uuid) -> QuoteLocked {
    QuoteLocked {
        quote_id: quote.id.to_string(),
        order_id: order_id.to_string(),
        price: Some(money(&quote.price)),
    }
}
