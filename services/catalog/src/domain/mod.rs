//! The catalog's rules, free of HTTP and storage so they can be read and tested on their own:
//! what a valid model, variant and questionnaire is, and how a deduction applies to a price.

mod device;
mod questionnaire;

pub use device::{
    Category, Currency, DeviceModel, ModelDraft, ModelPatch, ModelStatus, Money, Variant,
    VariantDraft, VariantPatch,
};
pub use questionnaire::{AnswerOption, Deduction, Question, QuestionDraft, Questionnaire};

pub(crate) use platform::validation::check_text;
pub use platform::validation::{Violation, Violations};
