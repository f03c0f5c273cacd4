use uuid::Uuid;

use super::{Category, Violations, check_text};

pub const MAX_QUESTIONS: usize = 20;
pub const MIN_OPTIONS: usize = 2;
pub const MAX_OPTIONS: usize = 10;
pub const MAX_KEY_CHARS: usize = 48;
pub const MAX_TEXT_CHARS: usize = 300;
pub const FULL_PRICE_BASIS_POINTS: u32 = 10_000;

/// Question and option ids derive from their keys, so replacing a questionnaire with the same
/// keys keeps its ids: quotes that recorded answers by id still resolve.
const QUESTIONNAIRE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_1d0e_8a5b_4c55_9b7e_2f0a_c3d4_e5f6);

pub use events::vocabulary::{AnswerOption, Deduction, Question};

/// The condition questions a shopper answers for every device of one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Questionnaire {
    pub category: Category,
    pub questions: Vec<Question>,
}

/// Unvalidated input for one question.
#[derive(Debug, Clone)]
pub struct QuestionDraft {
    pub key: String,
    pub text: String,
    /// `(key, label, deduction)` per option, best condition first.
    pub options: Vec<(String, String, Deduction)>,
}

fn is_key(value: &str) -> bool {
    let mut bytes = value.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && value.len() <= MAX_KEY_CHARS
        && bytes.all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

fn check_deduction(violations: &mut Violations, field: &str, deduction: Deduction) {
    match deduction {
        Deduction::Percentage { basis_points } => violations.check(
            basis_points <= FULL_PRICE_BASIS_POINTS,
            format!("{field}.basis_points"),
            "must be between 0 and 10000 (100%)",
        ),
        Deduction::Absolute { amount_minor } => violations.check(
            amount_minor >= 0,
            format!("{field}.amount_minor"),
            "must not be negative",
        ),
    }
}

impl Questionnaire {
    /// Validates a whole questionnaire and gives every question and option its stable id.
    pub fn parse(category: Category, drafts: Vec<QuestionDraft>) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        violations.check(
            (1..=MAX_QUESTIONS).contains(&drafts.len()),
            "questions",
            format!("must hold between 1 and {MAX_QUESTIONS} questions"),
        );
        let mut question_keys = std::collections::HashSet::new();
        let mut questions = Vec::with_capacity(drafts.len());
        for (q, draft) in drafts.into_iter().enumerate() {
            let field = format!("questions[{q}]");
            violations.check(
                is_key(&draft.key),
                format!("{field}.key"),
                "must be snake_case: a-z, 0-9 and _, not starting with _, at most 48",
            );
            violations.check(
                question_keys.insert(draft.key.clone()),
                format!("{field}.key"),
                "must be unique within the questionnaire",
            );
            check_text(
                &mut violations,
                &format!("{field}.text"),
                &draft.text,
                MAX_TEXT_CHARS,
            );
            violations.check(
                (MIN_OPTIONS..=MAX_OPTIONS).contains(&draft.options.len()),
                format!("{field}.options"),
                format!("must hold between {MIN_OPTIONS} and {MAX_OPTIONS} options"),
            );
            let question_id = Uuid::new_v5(
                &QUESTIONNAIRE_NAMESPACE,
                format!("{}/{}", category.as_str(), draft.key).as_bytes(),
            );
            let mut option_keys = std::collections::HashSet::new();
            let mut options = Vec::with_capacity(draft.options.len());
            for (o, (key, label, deduction)) in draft.options.into_iter().enumerate() {
                let field = format!("{field}.options[{o}]");
                violations.check(
                    is_key(&key),
                    format!("{field}.key"),
                    "must be snake_case: a-z, 0-9 and _, not starting with _, at most 48",
                );
                violations.check(
                    option_keys.insert(key.clone()),
                    format!("{field}.key"),
                    "must be unique within the question",
                );
                check_text(
                    &mut violations,
                    &format!("{field}.label"),
                    &label,
                    MAX_TEXT_CHARS,
                );
                check_deduction(&mut violations, &format!("{field}.deduction"), deduction);
                options.push(AnswerOption {
                    id: Uuid::new_v5(
                        &QUESTIONNAIRE_NAMESPACE,
                        format!("{}/{}/{}", category.as_str(), draft.key, key).as_bytes(),
                    ),
                    key,
                    label: label.trim().to_owned(),
                    deduction,
                });
            }
            questions.push(Question {
                id: question_id,
                key: draft.key,
                text: draft.text.trim().to_owned(),
                options,
            });
        }
        violations.into_result(Self {
            category,
            questions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(key: &str, options: &[(&str, Deduction)]) -> QuestionDraft {
        QuestionDraft {
            key: key.into(),
            text: "How is it?".into(),
            options: options
                .iter()
                .map(|(key, deduction)| ((*key).into(), "label".into(), *deduction))
                .collect(),
        }
    }

    const NONE: Deduction = Deduction::Percentage { basis_points: 0 };

    #[test]
    fn ids_are_stable_for_the_same_keys() {
        let options = [
            ("good", NONE),
            ("bad", Deduction::Absolute { amount_minor: 5 }),
        ];
        let first = Questionnaire::parse(Category::Phone, vec![draft("screen", &options)]).unwrap();
        let second =
            Questionnaire::parse(Category::Phone, vec![draft("screen", &options)]).unwrap();
        let laptop =
            Questionnaire::parse(Category::Laptop, vec![draft("screen", &options)]).unwrap();
        assert_eq!(first.questions[0].id, second.questions[0].id);
        assert_eq!(
            first.questions[0].options[1].id,
            second.questions[0].options[1].id
        );
        assert_ne!(first.questions[0].id, laptop.questions[0].id);
    }

    #[test]
    fn bad_keys_duplicates_and_out_of_range_deductions_are_reported() {
        let error = Questionnaire::parse(
            Category::Phone,
            vec![
                draft(
                    "Screen",
                    &[
                        ("ok", NONE),
                        (
                            "ok",
                            Deduction::Percentage {
                                basis_points: 10_001,
                            },
                        ),
                    ],
                ),
                draft("Screen", &[("only", NONE)]),
            ],
        )
        .unwrap_err();
        let fields: Vec<&str> = error.0.iter().map(|v| v.field.as_str()).collect();
        assert!(fields.contains(&"questions[0].key"));
        assert!(fields.contains(&"questions[0].options[1].key"));
        assert!(fields.contains(&"questions[0].options[1].deduction.basis_points"));
        assert!(fields.contains(&"questions[1].options"));
    }

    #[test]
    fn an_empty_questionnaire_is_refused() {
        assert!(Questionnaire::parse(Category::Watch, vec![]).is_err());
    }
}
