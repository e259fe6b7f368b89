//! The SQLite/D1 migrations, embedded in the binary and applied at start.
//!
//! Files live in `migrations/sqlite/` at the workspace root: numbered, append-only. Each applied
//! one is recorded in `_alleato_migrations`, so a restart applies only what is new.

use alleato_core::Result;
use alleato_core::migrations::Migration;
use rusqlite::OptionalExtension;

use crate::errors::db;
use crate::pool::Pool;

/// `(version, name, sql)`, in order.
pub const MIGRATIONS: &[Migration] = &[
    (1, "0001_init", include_str!("../../../migrations/sqlite/0001_init.sql")),
    (2, "0002_generation_quota", include_str!("../../../migrations/sqlite/0002_generation_quota.sql")),
    (3, "0003_sessions_valid_from", include_str!("../../../migrations/sqlite/0003_sessions_valid_from.sql")),
];

/// The table that records applied migrations; valid on D1 too.
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS \"_alleato_migrations\" (\
    \"version\" INTEGER PRIMARY KEY NOT NULL, \"name\" TEXT NOT NULL, \"appliedAt\" TEXT NOT NULL)";

/// Applies every migration not yet recorded, each in its own transaction.
pub async fn migrate(pool: &Pool) -> Result<Vec<&'static str>> {
    let surface = pool.surface();
    pool.write(move |tx| {
        tx.execute_batch(MIGRATIONS_TABLE).map_err(db(surface))?;
        let newest: Option<i64> = tx
            .query_row("SELECT MAX(\"version\") FROM \"_alleato_migrations\"", [], |r| r.get(0))
            .optional()
            .map_err(db(surface))?
            .flatten();
        let mut applied = Vec::new();
        for (version, name, sql) in alleato_core::migrations::pending(MIGRATIONS, newest.unwrap_or(0))? {
            tx.execute_batch(sql).map_err(db(surface))?;
            tx.execute(
                "INSERT INTO \"_alleato_migrations\" (\"version\", \"name\", \"appliedAt\") VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, alleato_core::time::to_sortable_text(&alleato_core::time::now())],
            )
            .map_err(db(surface))?;
            applied.push(*name);
        }
        Ok(applied)
    })
    .await
}
