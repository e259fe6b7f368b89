//! Fixed-window counters in PostgreSQL: the same table and upsert as the SQLite/D1 adapter, so
//! a deployment may keep rate limits in its database instead of Redis.

use std::time::Duration;

use alleato_core::ports::{Counter, Counters, check_key, counter_window};
use alleato_core::time::{millis_after, unix_millis};
use alleato_core::{Result, Surface};
use async_trait::async_trait;
use sqlx::Row;

use crate::PostgresDatabase;
use crate::errors::db;

const S: Surface = Surface::KeyValue;

#[async_trait]
impl Counters for PostgresDatabase {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
        check_key(S, key)?;
        let now = unix_millis();
        let fresh_end = millis_after(now, counter_window(window));
        // One statement: a new window if the key is absent or its window ended, else count on.
        let row = sqlx::query(
            r#"INSERT INTO "Counter" ("key", "count", "expiresAt") VALUES ($1, 1, $3)
               ON CONFLICT ("key") DO UPDATE SET
                 "count" = CASE WHEN "Counter"."expiresAt" <= $2 THEN 1 ELSE "Counter"."count" + 1 END,
                 "expiresAt" = CASE WHEN "Counter"."expiresAt" <= $2 THEN $3 ELSE "Counter"."expiresAt" END
               RETURNING "count", "expiresAt""#,
        )
        .bind(key)
        .bind(now)
        .bind(fresh_end)
        .fetch_one(&self.pool)
        .await
        .map_err(db(S))?;
        let (count, ends): (i64, i64) = (row.try_get(0).map_err(db(S))?, row.try_get(1).map_err(db(S))?);
        if self.sweep.due() {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let swept =
                    sqlx::query(r#"DELETE FROM "Counter" WHERE "expiresAt" <= $1"#).bind(now).execute(&pool).await;
                if let Err(err) = swept {
                    tracing::warn!(error = %err, "could not delete ended counter windows");
                }
            });
        }
        Ok(Counter {
            count: count.max(0) as u64,
            resets_in: Duration::from_millis(ends.saturating_sub(now).max(0) as u64),
        })
    }

    async fn ping(&self) -> Result<()> {
        alleato_core::ports::DatabaseAdmin::ping(self).await
    }
}
