//! Reading domain values out of rows, and writing them as parameters.

use std::str::FromStr;

use alleato_core::time::{self, Timestamp};
use rusqlite::Row;
use rusqlite::types::Type;

fn conversion<E: std::error::Error + Send + Sync + 'static>(idx: usize, err: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(err))
}

#[derive(Debug)]
struct Invalid(String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// A column parsed with `FromStr` (ids).
pub(crate) fn parsed<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| conversion(idx, e))
}

pub(crate) fn parsed_opt<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: Option<String> = row.get(idx)?;
    text.map(|t| t.parse().map_err(|e| conversion(idx, e))).transpose()
}

pub(crate) fn timestamp(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    let text: String = row.get(idx)?;
    time::parse_sortable(&text).ok_or_else(|| conversion(idx, Invalid(format!("bad timestamp {text:?}"))))
}

pub(crate) fn optional_timestamp(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|text| {
        time::parse_sortable(&text).ok_or_else(|| conversion(idx, Invalid(format!("bad timestamp {text:?}"))))
    })
    .transpose()
}

/// A text column that must be one of an enum's names.
pub(crate) fn named<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(&text).ok_or_else(|| conversion(idx, Invalid(format!("unexpected value {text:?}"))))
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| conversion(idx, e))
}

pub(crate) fn ts(t: &Timestamp) -> String {
    time::to_sortable_text(t)
}
