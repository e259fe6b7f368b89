//! Fixed-window counters in the database: where the key-value store cannot count atomically
//! (Workers KV), counters live in D1, through the same executor seam as every other port.

use std::time::Duration;

use alleato_core::ports::{Counter, CounterAdd, Counters, check_adds, check_key, counter_window};
use alleato_core::time::{millis_after, unix_millis};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use crate::SqlDatabase;
use crate::sql::{Executor, Statement};

const S: Surface = Surface::KeyValue;

/// One statement: `n` more in the key's window, or a new window holding `n` if the key is
/// absent or its window ended; answers the count and the window's end.
fn upsert(key: &str, n: u64, now: i64, window: Duration) -> Statement {
    let fresh_end = millis_after(now, counter_window(window));
    Statement::new(
        r#"INSERT INTO "Counter" ("key", "count", "expiresAt") VALUES (?1, ?4, ?3)
           ON CONFLICT ("key") DO UPDATE SET
             "count" = CASE WHEN "Counter"."expiresAt" <= ?2 THEN ?4 ELSE "Counter"."count" + ?4 END,
             "expiresAt" = CASE WHEN "Counter"."expiresAt" <= ?2 THEN ?3 ELSE "Counter"."expiresAt" END
           RETURNING "count", "expiresAt""#,
    )
    .bind(key)
    .bind(now)
    .bind(fresh_end)
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
}

impl<E: Executor> SqlDatabase<E> {
    /// The upserts in one batch (one request on D1), with the sweep of ended windows at most
    /// once a minute in the same batch.
    async fn upsert_all(&self, adds: impl Iterator<Item = (&str, u64, Duration)>) -> Result<Vec<Counter>> {
        let now = unix_millis();
        let mut batch: Vec<Statement> = adds.map(|(key, n, window)| upsert(key, n, now, window)).collect();
        let upserts = batch.len();
        if self.sweep.due() {
            batch.push(Statement::new(r#"DELETE FROM "Counter" WHERE "expiresAt" <= ?1"#).bind(now));
        }
        let outcomes = self.write_all(S, batch).await?;
        outcomes
            .into_iter()
            .take(upserts)
            .map(|outcome| {
                let mut row = outcome
                    .rows
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::backend(S, "the counter upsert returned no row"))?;
                let (count, ends) =
                    (row.count(0).map_err(|e| e.into_port(S))?, row.int(1).map_err(|e| e.into_port(S))?);
                Ok(Counter { count, resets_in: Duration::from_millis(ends.saturating_sub(now).max(0) as u64) })
            })
            .collect()
    }
}

#[async_trait]
impl<E: Executor> Counters for SqlDatabase<E> {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
        check_key(S, key)?;
        let mut after = self.upsert_all(std::iter::once((key, 1, window))).await?;
        after.pop().ok_or_else(|| Error::backend(S, "the counter upsert returned no row"))
    }

    async fn add_many(&self, adds: &[CounterAdd]) -> Result<Vec<Counter>> {
        check_adds(adds)?;
        if adds.is_empty() {
            return Ok(Vec::new());
        }
        self.upsert_all(adds.iter().map(|a| (a.key.as_str(), a.n, a.window))).await
    }

    async fn ping(&self) -> Result<()> {
        alleato_core::ports::DatabaseAdmin::ping(self).await
    }
}
