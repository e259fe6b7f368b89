//! [`SqlDatabase`]: every database port, written once over an [`Executor`].

#[cfg(feature = "rusqlite")]
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alleato_core::migrations::MigrationPolicy;
use alleato_core::sweep::SweepGate;
use alleato_core::{Result, Surface};

use crate::migrations;
#[cfg(feature = "rusqlite")]
use crate::pool::Pool;
use crate::sql::{Executor, Outcome, Row, SqlError, Statement};

/// Every database port (users, chats, documents, file metadata, admin) in SQLite's dialect,
/// run by the executor `E`: a local file through `Pool` (`SqliteDatabase`), or any other
/// runner of SQLite statements, such as Cloudflare D1's HTTP API.
#[derive(Clone)]
pub struct SqlDatabase<E> {
    pub(crate) exec: E,
    /// Ended counter windows are deleted from `increment`, at most once a minute.
    pub(crate) sweep: Arc<SweepGate>,
}

/// The database on a local SQLite file (or in memory), through rusqlite.
#[cfg(feature = "rusqlite")]
pub type SqliteDatabase = SqlDatabase<Pool>;

#[cfg(feature = "rusqlite")]
impl SqlDatabase<Pool> {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        Self::open_under(path, MigrationPolicy::Apply).await
    }

    /// Opens (creating if needed) the database file, doing what `policy` says about pending
    /// migrations.
    pub async fn open_under(path: &Path, policy: MigrationPolicy) -> Result<Self> {
        Self::new_under(Pool::open(path, Surface::Database)?, policy).await
    }

    /// A private in-memory database with the full schema: for tests and `--ephemeral` runs.
    pub async fn memory() -> Result<Self> {
        Self::new(Pool::memory(Surface::Database)?).await
    }
}

impl<E: Executor> SqlDatabase<E> {
    /// The database on `exec`, after applying the migrations it lacks.
    pub async fn new(exec: E) -> Result<Self> {
        Self::new_under(exec, MigrationPolicy::Apply).await
    }

    /// The database on `exec`, doing what `policy` says about the migrations it lacks.
    pub async fn new_under(exec: E, policy: MigrationPolicy) -> Result<Self> {
        let applied = migrations::migrate_under(&exec, policy).await?;
        for name in applied {
            tracing::info!(migration = name, "applied database migration");
        }
        Ok(Self { exec, sweep: Arc::new(SweepGate::new(Duration::from_secs(60))) })
    }

    /// The executor the ports run on.
    pub fn executor(&self) -> &E {
        &self.exec
    }

    /// Every row of a read, decoded.
    pub(crate) async fn all<T>(
        &self,
        surface: Surface,
        statement: Statement,
        decode: fn(Row) -> Result<T, SqlError>,
    ) -> Result<Vec<T>> {
        let outcome = self.exec.query(statement).await.map_err(|e| e.into_port(surface))?;
        outcome.rows.into_iter().map(decode).collect::<Result<_, _>>().map_err(|e| e.into_port(surface))
    }

    /// The first row of a read, decoded, if there is one.
    pub(crate) async fn optional<T>(
        &self,
        surface: Surface,
        statement: Statement,
        decode: fn(Row) -> Result<T, SqlError>,
    ) -> Result<Option<T>> {
        let outcome = self.exec.query(statement.max_rows(1)).await.map_err(|e| e.into_port(surface))?;
        outcome.rows.into_iter().next().map(decode).transpose().map_err(|e| e.into_port(surface))
    }

    /// Two reads sent together ([`Executor::query_all`]: one request on D1), for a port
    /// method that answers from both.
    pub(crate) async fn read_two(&self, first: Statement, second: Statement) -> Result<(Outcome, Outcome)> {
        let surface = Surface::Database;
        let mut outcomes =
            self.exec.query_all(vec![first, second]).await.map_err(|e| e.into_port(surface))?.into_iter();
        match (outcomes.next(), outcomes.next()) {
            (Some(first), Some(second)) => Ok((first, second)),
            _ => Err(alleato_core::Error::backend(surface, "two reads answered fewer than two results")),
        }
    }

    /// Runs one writing statement; the rows it changed.
    pub(crate) async fn write(&self, surface: Surface, statement: Statement) -> Result<u64> {
        Ok(self.write_all(surface, vec![statement]).await?.pop().map_or(0, |o| o.changes))
    }

    /// Runs one writing statement with a `RETURNING` clause; the rows it returned. This is the
    /// count to use where foreign keys cascade: D1's `changes` includes the cascaded rows.
    pub(crate) async fn returned(&self, surface: Surface, statement: Statement) -> Result<u64> {
        Ok(self.write_all(surface, vec![statement]).await?.pop().map_or(0, |o| o.rows.len() as u64))
    }

    /// Runs writing statements as one batch (all or nothing).
    pub(crate) async fn write_all(&self, surface: Surface, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        self.exec.batch(statements).await.map_err(|e| e.into_port(surface))
    }
}
