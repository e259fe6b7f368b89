//! Fixed-window counters in the database: where the key-value store cannot count atomically
//! (Workers KV), counters live in D1, through the same executor seam as every other port.

use std::time::Duration;

use alleato_core::ports::{Counter, Counters, check_key, counter_window};
use alleato_core::time::unix_millis;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use crate::SqlDatabase;
use crate::sql::{Executor, Statement};

const S: Surface = Surface::KeyValue;

#[async_trait]
impl<E: Executor> Counters for SqlDatabase<E> {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
        check_key(S, key)?;
        let now = unix_millis();
        let fresh_end = now.saturating_add(counter_window(window).as_millis() as i64);
        // One statement: a new window if the key is absent or its window ended, else count on.
        let upsert = Statement::new(
            r#"INSERT INTO "Counter" ("key", "count", "expiresAt") VALUES (?1, 1, ?3)
               ON CONFLICT ("key") DO UPDATE SET
                 "count" = CASE WHEN "Counter"."expiresAt" <= ?2 THEN 1 ELSE "Counter"."count" + 1 END,
                 "expiresAt" = CASE WHEN "Counter"."expiresAt" <= ?2 THEN ?3 ELSE "Counter"."expiresAt" END
               RETURNING "count", "expiresAt""#,
        )
        .bind(key)
        .bind(now)
        .bind(fresh_end);
        let mut batch = vec![upsert];
        if self.sweep.due() {
            // Ended windows, at most once a minute, in the same request.
            batch.push(Statement::new(r#"DELETE FROM "Counter" WHERE "expiresAt" <= ?1"#).bind(now));
        }
        let mut outcomes = self.write_all(S, batch).await?.into_iter();
        let mut row = outcomes
            .next()
            .and_then(|o| o.rows.into_iter().next())
            .ok_or_else(|| Error::backend(S, "the counter upsert returned no row"))?;
        let (count, ends) = (row.count(0).map_err(|e| e.into_port(S))?, row.int(1).map_err(|e| e.into_port(S))?);
        Ok(Counter { count, resets_in: Duration::from_millis(ends.saturating_sub(now).max(0) as u64) })
    }

    async fn ping(&self) -> Result<()> {
        alleato_core::ports::DatabaseAdmin::ping(self).await
    }
}
