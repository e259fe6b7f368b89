//! The pool as an [`Executor`]: reads on a reader connection (inline when one is free, as
//! [`Pool::read`] does), batches as one `IMMEDIATE` transaction on the writer.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ToSql};

use super::Pool;
use crate::sql::{Executor, Outcome, Row, SqlError, SqlErrorKind, Statement, Value};

impl Executor for Pool {
    async fn query(&self, statement: Statement) -> Result<Outcome, SqlError> {
        if !statement.scans
            && let Some(conn) = self.inner.try_reader()
        {
            return run(&conn, &statement);
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || run(&inner.wait_reader(), &statement)).await.map_err(task_failed)?
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Outcome>, SqlError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || pool.batch_now(&statements)).await.map_err(task_failed)?
    }
}

impl Pool {
    /// [`Executor::batch`] on the calling thread, for callers already on a blocking thread.
    pub fn batch_now(&self, statements: &[Statement]) -> Result<Vec<Outcome>, SqlError> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql_error)?;
        let outcomes = statements.iter().map(|s| run(&tx, s)).collect::<Result<Vec<_>, _>>()?;
        tx.commit().map_err(sql_error)?;
        Ok(outcomes)
    }
}

fn task_failed(err: tokio::task::JoinError) -> SqlError {
    SqlError::new(SqlErrorKind::Other, format!("the database task failed: {err}"))
}

fn run(conn: &Connection, statement: &Statement) -> Result<Outcome, SqlError> {
    let mut prepared = conn.prepare_cached(&statement.sql).map_err(sql_error)?;
    let params = rusqlite::params_from_iter(&statement.params);
    let columns = prepared.column_count();
    if columns == 0 {
        let changes = prepared.execute(params).map_err(sql_error)?;
        return Ok(Outcome { rows: Vec::new(), changes: changes as u64 });
    }
    let writes = !prepared.readonly();
    let limit = statement.max_rows.map_or(usize::MAX, |n| n as usize);
    let mut rows = prepared.query(params).map_err(sql_error)?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next().map_err(sql_error)? else { break };
        let values =
            (0..columns).map(|i| row.get_ref(i).map_err(sql_error).and_then(owned)).collect::<Result<_, _>>()?;
        out.push(Row(values));
    }
    drop(rows);
    // `changes()` is the last completed write's count: a plain SELECT would report a stale one.
    let changes = if writes { conn.changes() } else { 0 };
    Ok(Outcome { rows: out, changes })
}

fn owned(value: ValueRef<'_>) -> Result<Value, SqlError> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| SqlError::new(SqlErrorKind::Other, format!("text that is not UTF-8: {e}")))?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// Classifies a rusqlite error by SQLite's result codes, and by its text where they say less.
pub(crate) fn sql_error(err: rusqlite::Error) -> SqlError {
    let rusqlite::Error::SqliteFailure(failure, message) = &err else {
        return SqlError::from_message(err.to_string());
    };
    let message = message.clone().unwrap_or_else(|| err.to_string());
    let kind = match failure.code {
        ErrorCode::ConstraintViolation => match failure.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                SqlErrorKind::Unique
            }
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => SqlErrorKind::ForeignKey,
            _ => SqlErrorKind::Other,
        },
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen | ErrorCode::SystemIoFailure => {
            SqlErrorKind::Unavailable
        }
        _ => SqlErrorKind::from_message(&message),
    };
    SqlError::new(kind, message)
}
