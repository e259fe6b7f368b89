//! Timestamps. Every stored timestamp has microsecond precision, the finest that PostgreSQL,
//! SQLite text and JSON all keep, so a value read back equals the value written.

use chrono::{DateTime, SubsecRound, Utc};

/// A point in time, in UTC; the domain keeps microseconds (see [`now`]).
pub type Timestamp = DateTime<Utc>;

/// The current time, truncated to microseconds.
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

/// The current time as Unix milliseconds: how expiries are stored where they are integers.
pub fn unix_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// Unix milliseconds `later` after `at` (saturating): an expiry as it is stored.
pub fn millis_after(at: i64, later: std::time::Duration) -> i64 {
    at.saturating_add(i64::try_from(later.as_millis()).unwrap_or(i64::MAX))
}

/// The canonical text form used by the SQLite/D1 schema: fixed width, so text order is time
/// order (`2026-11-27T02:32:32.123456Z`).
pub fn to_sortable_text(ts: &Timestamp) -> String {
    use chrono::{Datelike, Timelike};
    // Formatted by hand: chrono's general formatter is slow, and this runs for every timestamp
    // written to a row or a response.
    let (y, micros) = (ts.year(), ts.nanosecond() / 1000);
    if !(0..=9999).contains(&y) || micros >= 1_000_000 {
        return ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    format!(
        "{y:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        ts.month(),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second()
    )
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
    fn the_fast_parser_agrees_with_the_general_one() {
        for text in ["2026-11-27T02:32:32.123456Z", "1999-01-01T00:00:00.000000Z", "2026-02-28T23:59:59.999999Z"] {
            assert_eq!(parse_sortable(text), parse(text), "{text}");
        }
        assert_eq!(parse_sortable("2026-11-27T03:32:32+01:00"), parse("2026-11-27T02:32:32Z"), "falls back");
        assert_eq!(parse_sortable("2026-13-27T02:32:32.123456Z"), None);
        assert_eq!(parse_sortable("2026-1x-27T02:32:32.123456Z"), None);
    }

    #[test]
    fn sortable_text_orders_like_time() {
        let a = parse("2026-01-01T00:00:00.5Z").unwrap();
        let b = parse("2026-01-01T00:00:01Z").unwrap();
        assert!(to_sortable_text(&a) < to_sortable_text(&b));
    }
}

/// Parses the fixed-width form written by [`to_sortable_text`] without a general RFC 3339
/// parser (it is on the hot path of every row read); anything else falls back to [`parse`].
pub fn parse_sortable(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let fixed = b.len() == 27
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b'Z';
    if !fixed {
        return parse(text);
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = date.and_hms_micro_opt(num(11..13)?, num(14..16)?, num(17..19)?, num(20..26)?)?;
    Some(time.and_utc())
}

/// Serde for timestamps on the wire: always `YYYY-MM-DDTHH:MM:SS.ffffffZ` (RFC 3339, UTC,
/// microseconds); any RFC 3339 form is accepted back.
pub mod wire {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Timestamp;

    /// Writes the timestamp as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub fn serialize<S: Serializer>(ts: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::to_sortable_text(ts))
    }

    /// Reads an RFC 3339 timestamp (any offset) into UTC, truncated to microseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        from_text(&<std::borrow::Cow<'de, str>>::deserialize(deserializer)?)
    }

    pub(super) fn from_text<E: serde::de::Error>(text: &str) -> Result<Timestamp, E> {
        super::parse_sortable(text).ok_or_else(|| E::custom("expected an RFC 3339 timestamp"))
    }
}

/// [`wire`] for an optional timestamp (`null` or absent when `None`).
pub mod wire_option {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Timestamp;

    /// Writes the timestamp as [`wire`](super::wire) does, or `null`.
    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => super::wire::serialize(ts, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads a timestamp as [`wire`](super::wire) does; `null` is `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
        let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(deserializer)?;
        text.map(|text| super::wire::from_text(&text)).transpose()
    }
}
