//! The service's idea of "now", at the database's precision (microseconds), so a time that
//! was returned once is returned identically after a round trip through PostgreSQL (the
//! lock's `locked_at` must be byte-for-byte the same on an idempotent repeat).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
