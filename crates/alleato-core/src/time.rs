//! Timestamps. Every stored timestamp has microsecond precision, the finest that PostgreSQL,
//! SQLite text and JSON all keep, so a value read back equals the value written.

use chrono::{DateTime, SubsecRound, Utc};

pub type Timestamp = DateTime<Utc>;

/// The current time, truncated to microseconds.
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

/// The canonical text form used by the SQLite/D1 schema: fixed width, so text order is time
/// order (`2026-11-27T02:32:32.123456Z`).
pub fn to_sortable_text(ts: &Timestamp) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses an RFC 3339 timestamp (any offset) into UTC, truncated to microseconds.
pub fn parse(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_text_round_trips() {
        let t = now();
        assert_eq!(parse(&to_sortable_text(&t)), Some(t));
    }

    #[test]
    fn sortable_text_orders_like_time() {
        let a = parse("2026-01-01T00:00:00.5Z").unwrap();
        let b = parse("2026-01-01T00:00:01Z").unwrap();
        assert!(to_sortable_text(&a) < to_sortable_text(&b));
    }
}
