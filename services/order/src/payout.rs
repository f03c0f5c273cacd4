//! Paying the shopper. Providers differ; the order service needs one thing from them: a
//! payout that happens at most once per reference, however often it is asked. The
//! reference is derived from the order, so a retry after a crash reuses it.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::{Money, PayoutInstructions};

#[derive(Debug, Clone)]
pub struct PayoutOrder {
    /// Idempotency reference: the same reference is paid once.
    pub reference: String,
    pub amount: Money,
    pub instructions: PayoutInstructions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutReceipt {
    pub provider_reference: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PayoutError {
    /// The provider refused these instructions; retrying the same will not help soon.
    #[error("payout declined: {0}")]
    Declined(String),
    #[error("payout provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PayoutProvider: Send + Sync + 'static {
    async fn pay(&self, order: &PayoutOrder) -> Result<PayoutReceipt, PayoutError>;
}

/// The reference for an order's payout: stable across retries and instances. The order id
/// is written as 32 hex digits without hyphens, and must stay so: the reference is the
/// provider's idempotency key, and a payout asked for before a change of form and retried
/// after it would carry a new key and could be paid twice.
pub fn reference_for(order_id: Uuid) -> String {
    format!("rc-payout-{}", order_id.simple())
}

/// A provider for development and tests: pays everything except a UPI address at the
/// `decline` handle, and pays each reference once (the receipt is derived from it).
#[derive(Default)]
pub struct SandboxPayouts {
    paid: Mutex<HashMap<String, Money>>,
}

impl SandboxPayouts {
    /// How many distinct references were paid, and the total (for tests and the dev run).
    pub fn paid(&self) -> (usize, i64) {
        let paid = self.paid.lock().unwrap_or_else(|p| p.into_inner());
        (
            paid.len(),
            paid.values().map(|money| money.amount_minor).sum(),
        )
    }
}

#[async_trait]
impl PayoutProvider for SandboxPayouts {
    async fn pay(&self, order: &PayoutOrder) -> Result<PayoutReceipt, PayoutError> {
        if order
            .instructions
            .details
            .get("vpa")
            .is_some_and(|vpa| vpa.ends_with("@decline"))
        {
            return Err(PayoutError::Declined(
                "the sandbox declines UPI addresses at @decline".into(),
            ));
        }
        let mut paid = self.paid.lock().unwrap_or_else(|p| p.into_inner());
        paid.entry(order.reference.clone()).or_insert(order.amount);
        let receipt = Uuid::new_v5(&Uuid::NAMESPACE_OID, order.reference.as_bytes());
        Ok(PayoutReceipt {
            provider_reference: format!("sbx_{}", receipt.simple()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payout_reference_is_the_order_id_in_32_hex_digits_after_rc_payout() {
        let order_id = Uuid::parse_str("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f506").unwrap();
        assert_eq!(
            reference_for(order_id),
            "rc-payout-0192f3a45b6c7d8e9fa0b1c2d3e4f506"
        );
    }
}
