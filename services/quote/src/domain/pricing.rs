//! How a quote's price is made, in four steps, each a line of the breakdown (the lines
//! always add up to the price):
//!
//! 1. **base price** of the variant;
//! 2. one **deduction** per answer that costs something, computed on the base price
//!    (percentages rounded down); the deductions together never take more than the base;
//! 3. one **adjustment** per active admin adjustment for the model's category or brand,
//!    each a percentage of the price after deductions (not compounded, so their order does
//!    not matter), rounded up; together they never take the price below zero;
//! 4. a **floor**: the price is lifted to the minimum price (but never above the base
//!    price, which would pay more for a damaged device than for a flawless one).
//!
//! Every rounding is in the shopper's favour, and all arithmetic is integer minor units
//! (i128 intermediates: no overflow, no floating point).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AnsweredOption, FULL_PRICE_BASIS_POINTS, Money};

/// An adjustment as it was applied to a quote; kept with the quote so a re-quote uses the
/// same ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedAdjustment {
    pub id: Uuid,
    pub label: String,
    pub percent_basis_points: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakdownKind {
    BasePrice,
    Deduction,
    Adjustment,
    Floor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakdownLine {
    pub kind: BreakdownKind,
    pub label: String,
    /// Signed: deductions are negative, the base and the floor's lift positive.
    pub amount_minor: i64,
}

#[derive(Debug, Clone)]
pub struct PriceInput<'a> {
    pub base_price: &'a Money,
    /// Shown on the base price line, e.g. "Base price (128 GB)".
    pub base_label: &'a str,
    pub answers: &'a [AnsweredOption],
    pub adjustments: &'a [AppliedAdjustment],
    /// The minimum price, in minor units of the base price's currency.
    pub floor_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub price: Money,
    pub breakdown: Vec<BreakdownLine>,
}

/// `ceil(amount * basis_points / 10000)`: a percentage rounded up.
fn percentage_rounded_up(amount: i64, basis_points: i32) -> i64 {
    let product = i128::from(amount) * i128::from(basis_points);
    let divisor = i128::from(FULL_PRICE_BASIS_POINTS);
    let quotient = product.div_euclid(divisor) + i128::from(product.rem_euclid(divisor) != 0);
    i64::try_from(quotient).unwrap_or(if quotient < 0 { i64::MIN } else { i64::MAX })
}

pub fn price(input: PriceInput<'_>) -> Priced {
    let base = input.base_price.amount_minor.max(0);
    let mut breakdown = vec![BreakdownLine {
        kind: BreakdownKind::BasePrice,
        label: input.base_label.to_owned(),
        amount_minor: base,
    }];

    let mut running = base;
    for answer in input.answers {
        let off = answer.deduction.amount_off(base).min(running);
        if off > 0 {
            running -= off;
            breakdown.push(BreakdownLine {
                kind: BreakdownKind::Deduction,
                label: format!("{}: {}", answer.question_text, answer.option_label),
                amount_minor: -off,
            });
        }
    }

    let after_deductions = running;
    for adjustment in input.adjustments {
        let change =
            percentage_rounded_up(after_deductions, adjustment.percent_basis_points).max(-running);
        if change != 0 {
            running = running.saturating_add(change);
            breakdown.push(BreakdownLine {
                kind: BreakdownKind::Adjustment,
                label: adjustment.label.clone(),
                amount_minor: change,
            });
        }
    }

    let floor = input.floor_minor.clamp(0, base);
    if running < floor {
        breakdown.push(BreakdownLine {
            kind: BreakdownKind::Floor,
            label: "Minimum price".to_owned(),
            amount_minor: floor - running,
        });
        running = floor;
    }

    Priced {
        price: Money {
            amount_minor: running,
            currency: input.base_price.currency,
        },
        breakdown,
    }
}

/// One question whose observed answer differs from the quoted one, and what that alone
/// does to the price (before adjustments and the floor): negative = worth less.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerChange {
    pub question_id: Uuid,
    /// `None` when the question was not part of the questionnaire at quote time.
    pub quoted_option_id: Option<Uuid>,
    pub observed_option_id: Uuid,
    pub price_delta_minor: i64,
}

/// Compares the quoted answers with the observed ones, question by question.
pub fn answer_changes(
    base_minor: i64,
    quoted: &[AnsweredOption],
    observed: &[AnsweredOption],
) -> Vec<AnswerChange> {
    observed
        .iter()
        .filter_map(|seen| {
            let was = quoted
                .iter()
                .find(|answer| answer.question_id == seen.question_id);
            if was.is_some_and(|was| was.option_id == seen.option_id) {
                return None;
            }
            let quoted_off = was.map_or(0, |was| was.deduction.amount_off(base_minor));
            let observed_off = seen.deduction.amount_off(base_minor);
            Some(AnswerChange {
                question_id: seen.question_id,
                quoted_option_id: was.map(|was| was.option_id),
                observed_option_id: seen.option_id,
                price_delta_minor: quoted_off - observed_off,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Deduction;

    fn answer(n: u128, deduction: Deduction) -> AnsweredOption {
        AnsweredOption {
            question_id: Uuid::from_u128(n),
            option_id: Uuid::from_u128(n * 100),
            question_text: format!("Q{n}"),
            option_label: format!("A{n}"),
            deduction,
        }
    }

    fn adjustment(percent_basis_points: i32) -> AppliedAdjustment {
        AppliedAdjustment {
            id: Uuid::nil(),
            label: format!("{percent_basis_points} bp"),
            percent_basis_points,
        }
    }

    fn priced(
        base: i64,
        answers: &[AnsweredOption],
        adjustments: &[AppliedAdjustment],
        floor: i64,
    ) -> Priced {
        let base = Money::inr(base);
        let priced = price(PriceInput {
            base_price: &base,
            base_label: "Base price",
            answers,
            adjustments,
            floor_minor: floor,
        });
        let sum: i64 = priced.breakdown.iter().map(|line| line.amount_minor).sum();
        assert_eq!(sum, priced.price.amount_minor, "lines add up: {priced:?}");
        priced
    }

    fn kinds(priced: &Priced) -> Vec<BreakdownKind> {
        priced.breakdown.iter().map(|line| line.kind).collect()
    }

    #[test]
    fn a_flawless_device_gets_its_base_price() {
        let priced = priced(
            5_000_000,
            &[answer(1, Deduction::Percentage { basis_points: 0 })],
            &[],
            10_000,
        );
        assert_eq!(priced.price, Money::inr(5_000_000));
        assert_eq!(kinds(&priced), [BreakdownKind::BasePrice]);
    }

    #[test]
    fn deductions_are_taken_from_the_base_and_percentages_round_down() {
        let priced = priced(
            12_345,
            &[
                answer(1, Deduction::Percentage { basis_points: 1000 }),
                answer(
                    2,
                    Deduction::Absolute {
                        amount_minor: 2_000,
                    },
                ),
            ],
            &[],
            0,
        );
        // 10 % of 12 345 is 1 234.5: 1 234 off.
        assert_eq!(priced.breakdown[1].amount_minor, -1_234);
        assert_eq!(priced.breakdown[1].label, "Q1: A1");
        assert_eq!(priced.price, Money::inr(12_345 - 1_234 - 2_000));
    }

    #[test]
    fn deductions_together_never_take_more_than_the_base() {
        let priced = priced(
            10_000,
            &[
                answer(1, Deduction::Percentage { basis_points: 8000 }),
                answer(2, Deduction::Percentage { basis_points: 8000 }),
            ],
            &[],
            0,
        );
        assert_eq!(priced.breakdown[2].amount_minor, -2_000);
        assert_eq!(priced.price, Money::inr(0));
    }

    #[test]
    fn adjustments_are_percentages_of_the_price_after_deductions_rounded_up() {
        let priced = priced(
            11_110,
            &[answer(
                1,
                Deduction::Absolute {
                    amount_minor: 1_111,
                },
            )],
            &[adjustment(500), adjustment(-1000)],
            0,
        );
        // After deductions 9 999: +5 % = 499.95 → 500; -10 % = -999.9 → -999.
        assert_eq!(priced.breakdown[2].amount_minor, 500);
        assert_eq!(priced.breakdown[3].amount_minor, -999);
        assert_eq!(priced.price, Money::inr(9_999 + 500 - 999));
    }

    #[test]
    fn adjustments_do_not_compound_so_their_order_does_not_matter() {
        let one = priced(10_000, &[], &[adjustment(1000), adjustment(-2000)], 0);
        let other = priced(10_000, &[], &[adjustment(-2000), adjustment(1000)], 0);
        assert_eq!(one.price, other.price);
        assert_eq!(one.price, Money::inr(9_000));
    }

    #[test]
    fn the_floor_lifts_a_low_price_and_says_so() {
        let priced = priced(
            50_000,
            &[answer(
                1,
                Deduction::Percentage {
                    basis_points: 9_900,
                },
            )],
            &[],
            10_000,
        );
        assert_eq!(priced.price, Money::inr(10_000));
        assert_eq!(kinds(&priced).last(), Some(&BreakdownKind::Floor));
        assert_eq!(priced.breakdown.last().unwrap().amount_minor, 10_000 - 500);
    }

    #[test]
    fn the_floor_never_pays_more_than_the_base_price() {
        let priced = priced(
            5_000,
            &[answer(
                1,
                Deduction::Absolute {
                    amount_minor: 5_000,
                },
            )],
            &[],
            10_000,
        );
        assert_eq!(priced.price, Money::inr(5_000));
    }

    #[test]
    fn a_changed_answer_reports_what_it_alone_costs() {
        let good = answer(1, Deduction::Percentage { basis_points: 0 });
        let cracked = AnsweredOption {
            option_id: Uuid::from_u128(101),
            deduction: Deduction::Percentage { basis_points: 2500 },
            ..good.clone()
        };
        let same = answer(2, Deduction::Absolute { amount_minor: 10 });
        let changes = answer_changes(10_000, &[good.clone(), same.clone()], &[cracked, same]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].quoted_option_id, Some(good.option_id));
        assert_eq!(changes[0].observed_option_id, Uuid::from_u128(101));
        assert_eq!(changes[0].price_delta_minor, -2_500);
    }

    #[test]
    fn a_full_negative_adjustment_leaves_the_floor() {
        let priced = priced(
            20_000,
            &[],
            &[adjustment(-10_000), adjustment(-10_000)],
            1_000,
        );
        assert_eq!(priced.breakdown[1].amount_minor, -20_000);
        assert_eq!(
            kinds(&priced)[2],
            BreakdownKind::Floor,
            "second cut is nothing left to cut"
        );
        assert_eq!(priced.price, Money::inr(1_000));
    }
}
