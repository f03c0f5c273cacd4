//! The catalog's rules, free of HTTP and storage so they can be read and tested on their own:
//! what a valid model, variant and questionnaire is, and how a deduction applies to a price.

mod device;
mod questionnaire;

pub use device::{
    Category, Currency, DeviceModel, EARLIEST_RELEASE_YEAR, ModelDraft, ModelPatch, ModelStatus,
    Money, Variant, VariantDraft, VariantPatch,
};
pub use device::{
    MAX_BASE_PRICE_MINOR, MAX_BRAND_CHARS, MAX_MODEL_NAME_CHARS, MAX_VARIANT_NAME_CHARS,
};
pub use questionnaire::{AnswerOption, Deduction, Question, QuestionDraft, Questionnaire};
pub use questionnaire::{MAX_KEY_CHARS, MAX_OPTIONS, MAX_QUESTIONS, MAX_TEXT_CHARS, MIN_OPTIONS};

pub(crate) use platform::validation::check_text;
pub use platform::validation::{Violation, Violations};
