//! A result row as owned values, and the small decoders the port implementations read it with.

use std::str::FromStr;

use alleato_core::time::{self, Timestamp};

use super::{SqlError, Value};

/// One row: its columns in the statement's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn value(&mut self, idx: usize) -> Result<&mut Value, SqlError> {
        let len = self.0.len();
        self.0.get_mut(idx).ok_or_else(|| SqlError::decode(idx, format!("missing (the row has {len} columns)")))
    }

    /// A text column, moved out of the row.
    pub fn text(&mut self, idx: usize) -> Result<String, SqlError> {
        self.text_opt(idx)?.ok_or_else(|| SqlError::decode(idx, "unexpected NULL"))
    }

    /// A text column that may be `NULL`.
    pub fn text_opt(&mut self, idx: usize) -> Result<Option<String>, SqlError> {
        match std::mem::replace(self.value(idx)?, Value::Null) {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text)),
            other => Err(SqlError::decode(idx, format!("expected text, found {other:?}"))),
        }
    }

    /// An integer column.
    pub fn int(&mut self, idx: usize) -> Result<i64, SqlError> {
        match self.value(idx)? {
            Value::Integer(i) => Ok(*i),
            other => Err(SqlError::decode(idx, format!("expected an integer, found {other:?}"))),
        }
    }

    /// A count or size: a non-negative integer.
    pub fn count(&mut self, idx: usize) -> Result<u64, SqlError> {
        let n = self.int(idx)?;
        u64::try_from(n).map_err(|_| SqlError::decode(idx, format!("negative count {n}")))
    }

    /// SQLite's booleans are the integers 0 and 1.
    pub fn bool(&mut self, idx: usize) -> Result<bool, SqlError> {
        Ok(self.int(idx)? != 0)
    }

    /// A column parsed with `FromStr` (ids).
    pub fn parsed<T>(&mut self, idx: usize) -> Result<T, SqlError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let text = self.text(idx)?;
        text.parse().map_err(|e| SqlError::decode(idx, e))
    }

    /// [`Self::parsed`], for a column that may be `NULL`.
    pub fn parsed_opt<T>(&mut self, idx: usize) -> Result<Option<T>, SqlError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.text_opt(idx)?.map(|text| text.parse().map_err(|e| SqlError::decode(idx, e))).transpose()
    }

    /// A time, stored as Unix milliseconds.
    pub fn timestamp(&mut self, idx: usize) -> Result<Timestamp, SqlError> {
        self.timestamp_opt(idx)?.ok_or_else(|| SqlError::decode(idx, "unexpected NULL"))
    }

    /// [`Self::timestamp`], for a column that may be `NULL`.
    pub fn timestamp_opt(&mut self, idx: usize) -> Result<Option<Timestamp>, SqlError> {
        self.text_opt(idx)?
            .map(|text| {
                time::parse_sortable(&text).ok_or_else(|| SqlError::decode(idx, format!("bad timestamp {text:?}")))
            })
            .transpose()
    }

    /// A text column that must be one of an enum's names.
    pub fn named<T>(&mut self, idx: usize, parse: fn(&str) -> Option<T>) -> Result<T, SqlError> {
        let text = self.text(idx)?;
        parse(&text).ok_or_else(|| SqlError::decode(idx, format!("unexpected value {text:?}")))
    }

    /// A text column holding JSON, read as `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&mut self, idx: usize) -> Result<T, SqlError> {
        let text = self.text(idx)?;
        serde_json::from_str(&text).map_err(|e| SqlError::decode(idx, e))
    }
}

/// A timestamp as stored: sortable text.
pub(crate) fn ts(t: &Timestamp) -> String {
    time::to_sortable_text(t)
}
