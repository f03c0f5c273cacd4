//! The days a report covers: `from` to `to`, both included, in UTC days.

use chrono::{Days, NaiveDate};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::configuration::MAX_RANGE_DAYS;

/// `from` and `to` of a report's request.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day covered (UTC, `YYYY-MM-DD`), not after `to`, at most 366 days before it;
    /// default: `reporting.default_range_days` ending `to`.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day covered (UTC, `YYYY-MM-DD`), included; default: today.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeRefused {
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("a report covers at most {MAX_RANGE_DAYS} days; this range has {days}")]
    TooLong { days: i64 },
}

impl ReportRange {
    /// The range a request asks for, `default_days` ending `to` (default `today`) where it
    /// names no `from`.
    pub fn of(
        query: &RangeQuery,
        today: NaiveDate,
        default_days: u32,
    ) -> Result<Self, RangeRefused> {
        let to = query.to.unwrap_or(today);
        let from = match query.from {
            Some(from) => from,
            None => to
                .checked_sub_days(Days::new(u64::from(default_days.saturating_sub(1))))
                .unwrap_or(NaiveDate::MIN),
        };
        if from > to {
            return Err(RangeRefused::Reversed { from, to });
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_RANGE_DAYS {
            return Err(RangeRefused::TooLong { days });
        }
        Ok(Self { from, to })
    }

    /// Every day in the range, first to last.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let to = self.to;
        self.from.iter_days().take_while(move |day| *day <= to)
    }

    /// The days as the projection stores them (`YYYY-MM-DD`, which sorts as dates do).
    pub fn bounds(&self) -> (String, String) {
        (day_key(self.from), day_key(self.to))
    }
}

/// How the projection stores a day: ISO 8601, which compares as text the way dates do.
pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn no_range_given_is_the_default_number_of_days_ending_today() {
        let range = ReportRange::of(&RangeQuery::default(), day("2026-12-01"), 30).unwrap();
        assert_eq!(range.from, day("2026-11-02"));
        assert_eq!(range.to, day("2026-12-01"));
        assert_eq!(range.days().count(), 30);
    }

    #[test]
    fn a_reversed_or_overlong_range_is_refused() {
        let reversed = RangeQuery {
            from: Some(day("2026-12-02")),
            to: Some(day("2026-12-01")),
        };
        assert!(matches!(
            ReportRange::of(&reversed, day("2026-12-01"), 30),
            Err(RangeRefused::Reversed { .. })
        ));
        let long = RangeQuery {
            from: Some(day("2024-01-01")),
            to: Some(day("2026-12-01")),
        };
        assert!(matches!(
            ReportRange::of(&long, day("2026-12-01"), 30),
            Err(RangeRefused::TooLong { .. })
        ));
        let year = RangeQuery {
            from: Some(day("2024-01-01")),
            to: Some(day("2024-12-31")),
        };
        assert_eq!(
            ReportRange::of(&year, day("2026-12-01"), 30)
                .unwrap()
                .days()
                .count(),
            366
        );
    }
}
