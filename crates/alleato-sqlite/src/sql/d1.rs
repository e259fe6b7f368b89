//! Cloudflare D1's limits on statements, checked before a statement runs, so the local stand-in
//! fails as D1 would and a remote executor fails before spending a request.
//!
//! From D1's documentation (see `shared/reference/cloudflare-and-test-services.md` §1.4–1.5):
//! at most 100 bound parameters and 100,000 bytes per statement; every request is its own
//! transaction and a batch is the only atomic unit, so `BEGIN`, `COMMIT`, `ROLLBACK`,
//! `SAVEPOINT` and `RELEASE` are refused, and so are the `PRAGMA`s this code could send.

#[cfg(feature = "rusqlite")]
use super::{Executor, Outcome};
use super::{SqlError, SqlErrorKind, Statement};
#[cfg(feature = "rusqlite")]
use crate::Pool;

/// The most parameters one statement may bind on D1.
pub const MAX_PARAMS: usize = 100;
/// The longest statement D1 accepts, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 100_000;

/// Refuses what D1 would refuse, with an error that says which limit.
pub fn check(statement: &Statement) -> Result<(), SqlError> {
    let refuse =
        |why: String| Err(SqlError::new(SqlErrorKind::Other, format!("D1 would refuse this statement: {why}")));
    if statement.params.len() > MAX_PARAMS {
        return refuse(format!("{} parameters, more than {MAX_PARAMS}", statement.params.len()));
    }
    if statement.sql.len() > MAX_STATEMENT_BYTES {
        return refuse(format!("{} bytes, more than {MAX_STATEMENT_BYTES}", statement.sql.len()));
    }
    let first_word = statement
        .sql
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("--"))
        .flat_map(str::split_whitespace)
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if ["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"].contains(&first_word.as_str()) {
        return refuse(format!("{first_word} is not allowed; a batch is the only transaction"));
    }
    Ok(())
}

/// D1's local stand-in, as `wrangler dev` runs one: a SQLite file through the same executor
/// seam, refusing what D1 refuses.
#[cfg(feature = "rusqlite")]
#[derive(Clone)]
pub struct D1Local {
    pool: Pool,
}

#[cfg(feature = "rusqlite")]
impl D1Local {
    /// D1's rules over the SQLite file `pool` opened.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[cfg(feature = "rusqlite")]
impl Executor for D1Local {
    async fn query(&self, statement: Statement) -> Result<Outcome, SqlError> {
        check(&statement)?;
        self.pool.query(statement).await
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Outcome>, SqlError> {
        statements.iter().try_for_each(check)?;
        self.pool.batch(statements).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_d1_refuses_is_refused_first() {
        let ok = Statement::new("-- a comment\nSELECT ?1").bind(1i64);
        assert!(check(&ok).is_ok());
        let mut wide = Statement::new("SELECT 1");
        wide.params = vec![super::super::Value::Null; MAX_PARAMS + 1];
        assert!(check(&wide).unwrap_err().message.contains("101 parameters"));
        let long = Statement::new(format!("SELECT '{}'", "x".repeat(MAX_STATEMENT_BYTES)));
        assert!(check(&long).unwrap_err().message.contains("bytes"));
        for sql in ["BEGIN", "  begin immediate", "-- x\nPRAGMA foreign_keys = OFF", "SAVEPOINT a", "COMMIT"] {
            assert!(check(&Statement::new(sql)).is_err(), "{sql}");
        }
    }

    #[cfg(feature = "rusqlite")]
    #[tokio::test]
    async fn the_stand_in_runs_statements_and_refuses_like_d1() {
        let d1 = D1Local::new(Pool::memory(alleato_core::Surface::Database).unwrap());
        let created = d1.batch(vec![Statement::new("CREATE TABLE t (x INTEGER)")]).await.unwrap();
        assert_eq!(created.len(), 1);
        let err = d1.batch(vec![Statement::new("BEGIN")]).await.unwrap_err();
        assert!(err.message.contains("D1 would refuse"), "{err}");
    }
}
