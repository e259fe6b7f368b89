//! The seam between Alleato's SQL and whatever runs it.
//!
//! The port implementations ([`crate::SqlDatabase`]) build owned [`Statement`]s and hand them to
//! an [`Executor`], which has exactly two operations: run one statement and return its rows, or
//! run a batch of statements atomically. That is what Cloudflare D1's HTTP API offers
//! (`/query` with `{"sql", "params"}` or `{"batch": [...]}`, each batch one transaction), and
//! what the local rusqlite pool (`Pool`) offers too, so one body of SQL serves both.
//!
//! An executor implements: [`Executor::query`], [`Executor::batch`], conversion of its values to
//! and from [`Value`], and the classification of its errors into a [`SqlError`] (the message text
//! alone is enough: [`SqlErrorKind::from_message`]).

pub mod d1;
mod error;
mod row;
mod script;

use std::borrow::Cow;
use std::future::Future;

pub use error::{SqlError, SqlErrorKind};
pub use row::Row;
pub(crate) use row::ts;
pub use script::split_script;

/// One SQLite value, owned: what a parameter or a column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer (also booleans, 0 and 1, and timestamps in milliseconds).
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// UTF-8 text (also ids, and JSON).
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<u64> for Value {
    /// Saturates at `i64::MAX`, SQLite's largest integer.
    fn from(v: u64) -> Self {
        Value::Integer(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(i64::from(v))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One SQL statement in SQLite's dialect with its parameters (`?1`, `?2`, … bind in order).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL text.
    pub sql: Cow<'static, str>,
    /// The parameters, bound to `?1`, `?2`, … in order.
    pub params: Vec<Value>,
    /// At most this many rows are wanted. The statement must be a `SELECT` without a `LIMIT` of
    /// its own: an executor may stop reading early (the rusqlite pool does, which keeps the
    /// statement's plan cached) or append `LIMIT n` (a remote one should, to send fewer rows).
    pub max_rows: Option<u32>,
    /// The statement reads whole tables (counts): an executor with a local connection runs it
    /// off the async worker threads instead of inline.
    pub scans: bool,
}

impl Statement {
    /// A statement without parameters, wanting every row.
    pub fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Self { sql: sql.into(), params: Vec::new(), max_rows: None, scans: false }
    }

    /// Binds the next parameter.
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.params.push(value.into());
        self
    }

    /// See [`Statement::max_rows`].
    pub fn max_rows(mut self, rows: u32) -> Self {
        self.max_rows = Some(rows);
        self
    }

    /// See [`Statement::scans`].
    pub fn scans(mut self) -> Self {
        self.scans = true;
        self
    }
}

/// What running one statement produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The rows a `SELECT` (or a `RETURNING`) gave, in order.
    pub rows: Vec<Row>,
    /// Rows inserted, updated or deleted (SQLite's `changes()`, D1's `meta.changes`). Whether
    /// rows changed by foreign-key actions count differs (SQLite: no; D1: yes), so it is only
    /// compared with zero where cascades can happen; exact counts come from `RETURNING`.
    pub changes: u64,
}

/// Runs statements. See the [module documentation](self).
pub trait Executor: Clone + Send + Sync + 'static {
    /// Runs one statement that only reads. An executor may run it on a read-only connection or
    /// replica; anything that writes goes through [`Executor::batch`].
    fn query(&self, statement: Statement) -> impl Future<Output = Result<Outcome, SqlError>> + Send;

    /// Runs the statements in order as one transaction: all of them take effect, or (on the
    /// first error) none. Nothing else reads or writes between them.
    fn batch(&self, statements: Vec<Statement>) -> impl Future<Output = Result<Vec<Outcome>, SqlError>> + Send;

    /// Runs statements that only read, in order, each as [`Executor::query`] would. An executor
    /// whose every call is a round trip (D1 over HTTP) sends them together; the default runs
    /// them one by one.
    fn query_all(&self, statements: Vec<Statement>) -> impl Future<Output = Result<Vec<Outcome>, SqlError>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(statements.len());
            for statement in statements {
                outcomes.push(self.query(statement).await?);
            }
            Ok(outcomes)
        }
    }
}
