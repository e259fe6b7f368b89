//! The SQLite/D1 migrations, embedded in the binary and applied at start through any
//! [`Executor`].
//!
//! Files live in `migrations/sqlite/` at the workspace root: numbered, append-only. Each applied
//! one is recorded in `_alleato_migrations`, so a restart applies only what is new.

use alleato_core::migrations::{Migration, MigrationPolicy};
use alleato_core::{Result, Surface};

use crate::sql::{Executor, Statement, split_script};

/// `(version, name, sql)`, in order.
pub const MIGRATIONS: &[Migration] = &[
    (1, "0001_init", include_str!("../../../migrations/sqlite/0001_init.sql")),
    (2, "0002_generation_quota", include_str!("../../../migrations/sqlite/0002_generation_quota.sql")),
    (3, "0003_sessions_valid_from", include_str!("../../../migrations/sqlite/0003_sessions_valid_from.sql")),
    (4, "0004_counters", include_str!("../../../migrations/sqlite/0004_counters.sql")),
    (5, "0005_session_revocations", include_str!("../../../migrations/sqlite/0005_session_revocations.sql")),
    (6, "0006_store", include_str!("../../../migrations/sqlite/0006_store.sql")),
];

/// The table that records applied migrations; valid on D1 too.
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS \"_alleato_migrations\" (\
    \"version\" INTEGER PRIMARY KEY NOT NULL, \"name\" TEXT NOT NULL, \"appliedAt\" TEXT NOT NULL)";

const S: Surface = Surface::Database;

/// Applies every migration not yet recorded, each as one batch: its statements and its record.
pub async fn migrate<E: Executor>(exec: &E) -> Result<Vec<&'static str>> {
    migrate_under(exec, MigrationPolicy::Apply).await
}

/// [`migrate`], or the error `policy` gives for a database whose schema is not current.
pub async fn migrate_under<E: Executor>(exec: &E, policy: MigrationPolicy) -> Result<Vec<&'static str>> {
    let on = |e: crate::sql::SqlError| e.into_port(S);
    // One round trip (one request on D1) when nothing is pending: the table and its newest row.
    let newest = exec
        .batch(vec![
            Statement::new(MIGRATIONS_TABLE),
            Statement::new("SELECT COALESCE(MAX(\"version\"), 0) FROM \"_alleato_migrations\""),
        ])
        .await
        .map_err(on)?
        .pop()
        .and_then(|outcome| outcome.rows.into_iter().next())
        .map(|mut row| row.int(0))
        .transpose()
        .map_err(on)?
        .unwrap_or(0);
    let mut applied = Vec::new();
    for (version, name, sql) in alleato_core::migrations::pending_under(MIGRATIONS, newest, policy)? {
        let mut batch: Vec<Statement> = split_script(sql).into_iter().map(Statement::new).collect();
        batch.push(
            Statement::new(
                "INSERT INTO \"_alleato_migrations\" (\"version\", \"name\", \"appliedAt\") VALUES (?1, ?2, ?3)",
            )
            .bind(*version)
            .bind(*name)
            .bind(alleato_core::time::to_sortable_text(&alleato_core::time::now())),
        );
        exec.batch(batch).await.map_err(on)?;
        applied.push(*name);
    }
    Ok(applied)
}
