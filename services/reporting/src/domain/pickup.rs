//! When a pickup was due. Pickups are booked in India (six-digit pincodes) for a day and a
//! window; the windows have no hours in the order API, so reporting fixes them: morning
//! until 13:00, afternoon until 17:00, evening until 21:00, India time (UTC+05:30). A
//! pickup reported by then is on time.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// UTC+05:30, in seconds.
const INDIA: i32 = 5 * 3600 + 30 * 60;

/// The end of the window `slot_window` on `slot_date` (`YYYY-MM-DD`); `None` for a date or
/// window it cannot read (the pickup is then counted, but neither on time nor late).
pub fn pickup_due_by(slot_date: &str, slot_window: &str) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(slot_date, "%Y-%m-%d").ok()?;
    let hour = match slot_window {
        "morning" => 13,
        "afternoon" => 17,
        "evening" => 21,
        _ => return None,
    };
    let local = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0)?);
    let offset = FixedOffset::east_opt(INDIA)?;
    Some(
        offset
            .from_local_datetime(&local)
            .single()?
            .with_timezone(&Utc),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_morning_pickup_is_due_by_one_in_the_afternoon_india_time() {
        let due = pickup_due_by("2026-12-01", "morning").unwrap();
        assert_eq!(due.to_rfc3339(), "2026-12-01T07:30:00+00:00");
        assert_eq!(
            pickup_due_by("2026-12-01", "evening").unwrap().to_rfc3339(),
            "2026-12-01T15:30:00+00:00"
        );
    }

    #[test]
    fn an_unreadable_date_or_window_has_no_due_time() {
        assert_eq!(pickup_due_by("01/12/2026", "morning"), None);
        assert_eq!(pickup_due_by("2026-12-01", "night"), None);
    }
}
