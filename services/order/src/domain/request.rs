//! What a shopper must tell us to place an order, checked before anything is stored.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use strum::IntoEnumIterator;

use platform::validation::check_text;
pub use platform::validation::{Violation, Violations};
pub use platform::values::is_pincode;

// The limits below are also the OpenAPI document's (`routes::dto`), whose tests import them.

/// The pickup address, trimmed.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// Each payout detail.
pub const MAX_DETAIL_CHARS: usize = 100;
/// How far ahead a pickup may be booked.
pub const MAX_DAYS_AHEAD: i64 = 60;
/// An IFSC code: this many ASCII letters and digits.
pub const IFSC_CHARS: usize = 11;
/// A bank account number: this many ASCII digits.
pub const ACCOUNT_NUMBER_DIGITS: RangeInclusive<usize> = 6..=18;

/// "must be one of: a, b, c", for a field naming a value of `E`.
fn one_of<E>() -> String
where
    E: IntoEnumIterator + Into<&'static str>,
{
    let names: Vec<&'static str> = E::iter().map(Into::into).collect();
    format!("must be one of: {}", names.join(", "))
}

platform::named_enum! {
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[strum(serialize_all = "snake_case")]
    pub enum SlotWindow {
        Morning,
        Afternoon,
        Evening,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickupRequest {
    pub address: String,
    pub pincode: String,
    pub slot_date: NaiveDate,
    pub slot_window: SlotWindow,
}

impl PickupRequest {
    /// A pickup at a six-digit Indian pincode, on a day from `today` up to two months ahead,
    /// in the window named `slot_window` (an unknown name is one more violation).
    pub fn parse(
        address: &str,
        pincode: &str,
        slot_date: NaiveDate,
        slot_window: &str,
        today: NaiveDate,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        check_text(
            &mut violations,
            "pickup.address",
            address,
            MAX_ADDRESS_CHARS,
        );
        violations.check(
            is_pincode(pincode),
            "pickup.pincode",
            "must be six digits, not starting with 0",
        );
        violations.check(
            slot_date >= today,
            "pickup.slot.date",
            "must not be in the past",
        );
        violations.check(
            (slot_date - today).num_days() <= MAX_DAYS_AHEAD,
            "pickup.slot.date",
            format!("must be at most {MAX_DAYS_AHEAD} days ahead"),
        );
        let window = SlotWindow::parse(slot_window);
        violations.check(
            window.is_some(),
            "pickup.slot.window",
            one_of::<SlotWindow>(),
        );
        match window {
            Some(slot_window) if violations.0.is_empty() => Ok(Self {
                address: address.trim().to_owned(),
                pincode: pincode.to_owned(),
                slot_date,
                slot_window,
            }),
            _ => Err(violations),
        }
    }
}

platform::named_enum! {
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[strum(serialize_all = "snake_case")]
    pub enum PayoutMethod {
        Upi,
        BankTransfer,
    }
}

impl PayoutMethod {
    fn required_details(self) -> &'static [&'static str] {
        match self {
            Self::Upi => &["vpa"],
            Self::BankTransfer => &["account_name", "account_number", "ifsc"],
        }
    }
}

/// Where the shopper is paid. Details are exactly the fields the method needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutInstructions {
    pub method: PayoutMethod,
    pub details: BTreeMap<String, String>,
}

impl PayoutInstructions {
    /// Payment by the method named `method` (an unknown name is one more violation; the
    /// details are then checked only for their form, not for the fields a method needs).
    pub fn parse(method: &str, details: BTreeMap<String, String>) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        let method = PayoutMethod::parse(method);
        violations.check(method.is_some(), "payout.method", one_of::<PayoutMethod>());
        if let Some(method) = method {
            for field in method.required_details() {
                let value = details.get(*field).map(|value| value.trim());
                violations.check(
                    value.is_some_and(|value| !value.is_empty()),
                    format!("payout.details.{field}"),
                    format!("is required for {}", method.as_str()),
                );
            }
        }
        for (field, value) in &details {
            if let Some(method) = method {
                violations.check(
                    method.required_details().contains(&field.as_str()),
                    format!("payout.details.{field}"),
                    format!("is not a field of {}", method.as_str()),
                );
            }
            violations.check(
                value.chars().count() <= MAX_DETAIL_CHARS,
                format!("payout.details.{field}"),
                format!("must be at most {MAX_DETAIL_CHARS} characters"),
            );
        }
        if let Some(vpa) = details.get("vpa") {
            violations.check(
                vpa.contains('@') && !vpa.starts_with('@') && !vpa.ends_with('@'),
                "payout.details.vpa",
                "must look like name@bank",
            );
        }
        if let Some(ifsc) = details.get("ifsc") {
            violations.check(
                ifsc.len() == IFSC_CHARS && ifsc.bytes().all(|b| b.is_ascii_alphanumeric()),
                "payout.details.ifsc",
                format!("must be an {IFSC_CHARS}-character IFSC code"),
            );
        }
        if let Some(account) = details.get("account_number") {
            violations.check(
                ACCOUNT_NUMBER_DIGITS.contains(&account.len())
                    && account.bytes().all(|b| b.is_ascii_digit()),
                "payout.details.account_number",
                format!(
                    "must be {} to {} digits",
                    ACCOUNT_NUMBER_DIGITS.start(),
                    ACCOUNT_NUMBER_DIGITS.end()
                ),
            );
        }
        match method {
            Some(method) if violations.0.is_empty() => Ok(Self {
                method,
                details: details
                    .into_iter()
                    .map(|(field, value)| (field, value.trim().to_owned()))
                    .collect(),
            }),
            _ => Err(violations),
        }
    }

    /// What responses show: enough to recognise the account, not enough to misuse it.
    pub fn masked(&self) -> BTreeMap<String, String> {
        self.details
            .iter()
            .map(|(field, value)| {
                let shown = match field.as_str() {
                    "account_number" | "vpa" => mask(value),
                    _ => value.clone(),
                };
                (field.clone(), shown)
            })
            .collect()
    }
}

fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let keep = chars.len().min(4);
    let hidden = chars.len() - keep;
    "•".repeat(hidden) + &chars[hidden..].iter().collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_pickup_in_the_past_or_at_a_bad_pincode_is_refused_with_every_reason() {
        let violations = PickupRequest::parse(
            " ",
            "01234",
            day("2026-01-01"),
            "morning",
            day("2026-01-02"),
        )
        .unwrap_err();
        let fields: Vec<&str> = violations.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["pickup.address", "pickup.pincode", "pickup.slot.date"]
        );
    }

    #[test]
    fn upi_needs_a_vpa_and_nothing_else() {
        let ok = PayoutInstructions::parse(
            "upi",
            BTreeMap::from([("vpa".into(), "asha@okbank".into())]),
        )
        .unwrap();
        assert_eq!(ok.masked()["vpa"], "•••••••bank");
        let refused =
            PayoutInstructions::parse("upi", BTreeMap::from([("ifsc".into(), "X".into())]))
                .unwrap_err();
        assert_eq!(refused.0.len(), 3, "{refused}");
    }

    #[test]
    fn an_unknown_window_or_method_is_one_more_violation_with_the_others() {
        let violations = PickupRequest::parse(
            "1 MG Road",
            "01234",
            day("2026-01-02"),
            "midnight",
            day("2026-01-02"),
        )
        .unwrap_err();
        let fields: Vec<&str> = violations.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["pickup.pincode", "pickup.slot.window"]);
        assert_eq!(
            violations.0[1].message,
            "must be one of: morning, afternoon, evening"
        );

        let violations =
            PayoutInstructions::parse("cheque", BTreeMap::from([("ifsc".into(), "short".into())]))
                .unwrap_err();
        let fields: Vec<&str> = violations.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["payout.method", "payout.details.ifsc"]);
        assert_eq!(
            violations.0[0].message,
            "must be one of: upi, bank_transfer"
        );
    }
}
