//! Condition answers against a category's questionnaire: every question answered exactly
//! once, with one of its own options.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Deduction, Questionnaire, Violation, Violations};

/// More answers than this cannot be a real questionnaire (the catalog allows 20 questions).
pub const MAX_ANSWERS: usize = 50;

/// An answer as submitted: which option was chosen for which question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub question_id: Uuid,
    pub option_id: Uuid,
}

/// A valid answer, resolved against the questionnaire: what it means for the price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnsweredOption {
    pub question_id: Uuid,
    pub option_id: Uuid,
    pub question_text: String,
    pub option_label: String,
    pub deduction: Deduction,
}

impl AnsweredOption {
    pub fn answer(&self) -> Answer {
        Answer {
            question_id: self.question_id,
            option_id: self.option_id,
        }
    }
}

/// Resolves `answers` against `questionnaire`, in the questionnaire's order. Reports every
/// unknown question or option, duplicate and unanswered question at once.
pub fn match_answers(
    questionnaire: &Questionnaire,
    answers: &[Answer],
) -> Result<Vec<AnsweredOption>, Violations> {
    let mut violations = Violations::default();
    if answers.len() > MAX_ANSWERS {
        violations.0.push(Violation::new(
            "answers",
            format!("must hold at most {MAX_ANSWERS} answers"),
        ));
        return Err(violations);
    }
    let mut chosen: Vec<Option<Uuid>> = vec![None; questionnaire.questions.len()];
    for (index, answer) in answers.iter().enumerate() {
        let field = format!("answers[{index}]");
        let Some(position) = questionnaire
            .questions
            .iter()
            .position(|question| question.id == answer.question_id)
        else {
            violations.0.push(Violation::new(
                format!("{field}.question_id"),
                format!(
                    "is not a question of the {} questionnaire",
                    questionnaire.category.as_str()
                ),
            ));
            continue;
        };
        let question = &questionnaire.questions[position];
        if !question
            .options
            .iter()
            .any(|option| option.id == answer.option_id)
        {
            violations.0.push(Violation::new(
                format!("{field}.option_id"),
                format!("is not an option of question `{}`", question.key),
            ));
            continue;
        }
        if chosen[position].is_some() {
            violations.0.push(Violation::new(
                format!("{field}.question_id"),
                format!("question `{}` is answered more than once", question.key),
            ));
            continue;
        }
        chosen[position] = Some(answer.option_id);
    }
    let mut answered = Vec::with_capacity(questionnaire.questions.len());
    for (question, chosen) in questionnaire.questions.iter().zip(chosen) {
        let option = chosen.and_then(|id| question.options.iter().find(|option| option.id == id));
        match option {
            Some(option) => answered.push(AnsweredOption {
                question_id: question.id,
                option_id: option.id,
                question_text: question.text.clone(),
                option_label: option.label.clone(),
                deduction: option.deduction,
            }),
            None => {
                // Only report a missing answer when the question was not answered badly.
                let answered_badly = answers
                    .iter()
                    .any(|answer| answer.question_id == question.id);
                violations.check(
                    answered_badly,
                    "answers",
                    format!(
                        "question `{}` ({}) must be answered",
                        question.key, question.id
                    ),
                );
            }
        }
    }
    violations.into_result(answered)
}

/// An Indian PIN code: six digits, the first not zero.
pub fn check_pincode(violations: &mut Violations, field: &str, pincode: &str) {
    violations.check(
        platform::values::is_pincode(pincode),
        field,
        "must be a 6-digit PIN code not starting with 0",
    );
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{AnswerOption, Category, Question};

    fn questionnaire() -> Questionnaire {
        let question = |n: u128| Question {
            id: Uuid::from_u128(n),
            key: format!("q{n}"),
            text: format!("Question {n}?"),
            options: (1..=2)
                .map(|o| AnswerOption {
                    id: Uuid::from_u128(n * 100 + o),
                    key: format!("o{o}"),
                    label: format!("Option {o}"),
                    deduction: Deduction::Percentage { basis_points: 0 },
                })
                .collect(),
        };
        Questionnaire {
            category: Category::Phone,
            questions: vec![question(1), question(2)],
            as_of: Utc::now(),
        }
    }

    fn answer(question: u128, option: u128) -> Answer {
        Answer {
            question_id: Uuid::from_u128(question),
            option_id: Uuid::from_u128(option),
        }
    }

    #[test]
    fn complete_answers_resolve_in_questionnaire_order() {
        let resolved = match_answers(&questionnaire(), &[answer(2, 201), answer(1, 102)]).unwrap();
        let options: Vec<u128> = resolved.iter().map(|a| a.option_id.as_u128()).collect();
        assert_eq!(options, [102, 201]);
        assert_eq!(resolved[0].option_label, "Option 2");
    }

    #[test]
    fn unknown_questions_foreign_options_duplicates_and_gaps_are_all_reported() {
        let error = match_answers(
            &questionnaire(),
            &[
                answer(9, 901),
                answer(1, 201),
                answer(2, 201),
                answer(2, 202),
            ],
        )
        .unwrap_err();
        let fields: Vec<&str> = error.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "answers[0].question_id",
                "answers[1].option_id",
                "answers[3].question_id"
            ]
        );
        let missing = match_answers(&questionnaire(), &[answer(1, 101)]).unwrap_err();
        assert_eq!(missing.0[0].field, "answers");
        assert!(missing.0[0].message.contains("q2"));
    }

    #[test]
    fn a_pincode_is_six_digits_not_starting_with_zero() {
        for (pincode, ok) in [
            ("560001", true),
            ("056001", false),
            ("56001", false),
            ("5600011", false),
            ("56O001", false),
            ("５６０００１", false),
        ] {
            let mut violations = Violations::default();
            check_pincode(&mut violations, "pincode", pincode);
            assert_eq!(violations.0.is_empty(), ok, "{pincode}");
        }
    }
}
