//! Admin pricing adjustments: a percentage on top of the condition-adjusted price for every
//! model of a category or a brand, during a time window (a festival bonus, a glut of one
//! brand). Only adjustments active at pricing time apply.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CatalogModel, Category, Violations};

/// ±100 %: an adjustment can at most double a price or take all of it (the floor remains).
pub const MAX_ADJUSTMENT_BASIS_POINTS: i32 = 10_000;
pub const MAX_LABEL_CHARS: usize = 120;
pub const MAX_BRAND_CHARS: usize = 60;

platform::named_enum! {
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    #[strum(serialize_all = "snake_case")]
    pub enum AdjustmentScope {
        /// `value` is a category: phone, laptop, tablet or watch.
        Category,
        /// `value` is a brand, matched case-insensitively.
        Brand,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub id: Uuid,
    pub scope: AdjustmentScope,
    pub value: String,
    /// -1000 = -10 %, +500 = +5 %.
    pub percent_basis_points: i32,
    pub label: String,
    pub starts_at: DateTime<Utc>,
    /// Exclusive; `None` = open-ended.
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Adjustment {
    /// Active from `starts_at` (inclusive) until `ends_at` (exclusive).
    pub fn is_active_at(&self, at: DateTime<Utc>) -> bool {
        self.starts_at <= at && self.ends_at.is_none_or(|ends_at| at < ends_at)
    }

    pub fn applies_to(&self, model: &CatalogModel) -> bool {
        match self.scope {
            AdjustmentScope::Category => self.value == model.category.as_str(),
            AdjustmentScope::Brand => self.value.to_lowercase() == model.brand.to_lowercase(),
        }
    }
}

/// Times are kept to the microsecond, the database's precision, so what was answered at
/// creation is what is read back.
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

/// A validated new adjustment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentDraft {
    pub scope: AdjustmentScope,
    pub value: String,
    pub percent_basis_points: i32,
    pub label: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
}

impl AdjustmentDraft {
    /// Checks every field at once; `scope` is a name, so that an unknown one is reported
    /// with the rest.
    pub fn parse(
        scope: &str,
        value: &str,
        percent_basis_points: i32,
        label: &str,
        starts_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        // Lengths count what was sent, as the schema's maxLength does; emptiness what is kept.
        let (sent_value, value) = (value, value.trim());
        let scope = AdjustmentScope::parse(scope);
        match scope {
            None => violations.check(false, "scope", "must be category or brand"),
            Some(AdjustmentScope::Category) => violations.check(
                Category::parse(&value.to_lowercase()).is_some(),
                "value",
                "must be a category: phone, laptop, tablet or watch",
            ),
            Some(AdjustmentScope::Brand) => violations.check(
                !value.is_empty() && sent_value.chars().count() <= MAX_BRAND_CHARS,
                "value",
                format!("must be a brand of 1 to {MAX_BRAND_CHARS} characters"),
            ),
        }
        violations.check(
            percent_basis_points != 0
                && (-MAX_ADJUSTMENT_BASIS_POINTS..=MAX_ADJUSTMENT_BASIS_POINTS)
                    .contains(&percent_basis_points),
            "percent_basis_points",
            "must be between -10000 and 10000 (±100 %) and not 0",
        );
        violations.check(
            !label.trim().is_empty() && label.chars().count() <= MAX_LABEL_CHARS,
            "label",
            format!("must be 1 to {MAX_LABEL_CHARS} characters"),
        );
        if let Some(ends_at) = ends_at {
            violations.check(ends_at > starts_at, "ends_at", "must be after starts_at");
        }
        let Some(scope) = scope else {
            return Err(violations);
        };
        let value = match scope {
            AdjustmentScope::Category => value.to_lowercase(),
            AdjustmentScope::Brand => value.to_owned(),
        };
        violations.into_result(Self {
            scope,
            value,
            percent_basis_points,
            label: label.trim().to_owned(),
            starts_at: to_micros(starts_at),
            ends_at: ends_at.map(to_micros),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn adjustment(scope: AdjustmentScope, value: &str) -> Adjustment {
        let now = Utc::now();
        Adjustment {
            id: Uuid::nil(),
            scope,
            value: value.into(),
            percent_basis_points: 500,
            label: "x".into(),
            starts_at: now,
            ends_at: Some(now + Duration::hours(1)),
            created_at: now,
        }
    }

    fn model(brand: &str, category: Category) -> CatalogModel {
        CatalogModel {
            id: Uuid::nil(),
            brand: brand.into(),
            name: "X".into(),
            category,
            retired: false,
            version: 1,
            variants: vec![],
        }
    }

    #[test]
    fn an_adjustment_is_active_from_its_start_until_just_before_its_end() {
        let adjustment = adjustment(AdjustmentScope::Brand, "Apple");
        let start = adjustment.starts_at;
        assert!(!adjustment.is_active_at(start - Duration::seconds(1)));
        assert!(adjustment.is_active_at(start));
        assert!(!adjustment.is_active_at(start + Duration::hours(1)));
        let open = Adjustment {
            ends_at: None,
            ..adjustment
        };
        assert!(open.is_active_at(start + Duration::days(3650)));
    }

    #[test]
    fn brands_match_ignoring_case_and_categories_exactly() {
        assert!(
            adjustment(AdjustmentScope::Brand, "apple")
                .applies_to(&model("Apple", Category::Phone))
        );
        assert!(
            !adjustment(AdjustmentScope::Brand, "Apple")
                .applies_to(&model("Samsung", Category::Phone))
        );
        assert!(
            adjustment(AdjustmentScope::Category, "phone")
                .applies_to(&model("Apple", Category::Phone))
        );
        assert!(
            !adjustment(AdjustmentScope::Category, "laptop")
                .applies_to(&model("Apple", Category::Phone))
        );
    }

    #[test]
    fn a_draft_reports_every_broken_rule() {
        let now = Utc::now();
        let error = AdjustmentDraft::parse(
            "category",
            "toaster",
            0,
            " ",
            now,
            Some(now - Duration::hours(1)),
        )
        .unwrap_err();
        let fields: Vec<&str> = error.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["value", "percent_basis_points", "label", "ends_at"]
        );
        let unknown_scope = AdjustmentDraft::parse("planet", "x", 0, "", now, None).unwrap_err();
        let fields: Vec<&str> = unknown_scope.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["scope", "percent_basis_points", "label"]);
        let ok = AdjustmentDraft::parse("category", " Phone ", -1000, "Glut", now, None).unwrap();
        assert_eq!(ok.value, "phone");
    }
}
