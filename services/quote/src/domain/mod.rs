//! The quote service's rules, free of HTTP and storage so they can be read and tested on
//! their own: what the catalog looks like from here, which answers are valid, how a price is
//! computed, which adjustments apply, and when a quote may be locked to an order.

mod adjustment;
mod answers;
mod catalog;
mod pricing;
mod quote;

pub use adjustment::{
    Adjustment, AdjustmentDraft, AdjustmentScope, MAX_ADJUSTMENT_BASIS_POINTS, MAX_BRAND_CHARS,
    MAX_LABEL_CHARS,
};
pub use answers::{Answer, AnsweredOption, MAX_ANSWERS, check_pincode, match_answers};
pub use catalog::{
    AnswerOption, CatalogModel, CatalogVariant, Category, Deduction, FULL_PRICE_BASIS_POINTS,
    PricingSource, Question, Questionnaire,
};
pub use pricing::{
    AnswerChange, AppliedAdjustment, BreakdownKind, BreakdownLine, PriceInput, Priced,
    answer_changes, price,
};
pub use quote::{LockDecision, LockedQuote, Quote, QuoteStatus, decide_lock};

pub use platform::values::{Currency, Money};

pub use platform::validation::{Violation, Violations};
