//! The PostgreSQL migrations, embedded and applied at connect. Each has the same number and
//! name as its SQLite twin (a test fails if the two folders drift).

use alleato_core::Result;
use alleato_core::migrations::{Migration, MigrationPolicy};
use sqlx::{Executor, PgPool, Row};

use crate::errors::map_sqlx;

/// `(version, name, sql)`, in order.
pub const MIGRATIONS: &[Migration] = &[
    (1, "0001_init", include_str!("../../../migrations/postgres/0001_init.sql")),
    (2, "0002_generation_quota", include_str!("../../../migrations/postgres/0002_generation_quota.sql")),
    (3, "0003_sessions_valid_from", include_str!("../../../migrations/postgres/0003_sessions_valid_from.sql")),
    (4, "0004_counters", include_str!("../../../migrations/postgres/0004_counters.sql")),
    (5, "0005_session_revocations", include_str!("../../../migrations/postgres/0005_session_revocations.sql")),
    (6, "0006_store", include_str!("../../../migrations/postgres/0006_store.sql")),
];

/// Applies every migration not yet recorded, each in its own transaction, under an advisory
/// lock so instances starting together do not race.
pub async fn migrate(pool: &PgPool) -> Result<Vec<&'static str>> {
    migrate_under(pool, MigrationPolicy::Apply).await
}

/// [`migrate`], or the error `policy` gives for a database whose schema is not current.
pub async fn migrate_under(pool: &PgPool, policy: MigrationPolicy) -> Result<Vec<&'static str>> {
    let mut conn = pool.acquire().await.map_err(map_sqlx)?;
    conn.execute("SELECT pg_advisory_lock(7262201)").await.map_err(map_sqlx)?;
    let result = apply(&mut conn, policy).await;
    let _ = conn.execute("SELECT pg_advisory_unlock(7262201)").await;
    result
}

async fn apply(conn: &mut sqlx::PgConnection, policy: MigrationPolicy) -> Result<Vec<&'static str>> {
    conn.execute(
        r#"CREATE TABLE IF NOT EXISTS "_alleato_migrations" (
            "version" bigint PRIMARY KEY, "name" text NOT NULL, "appliedAt" timestamptz NOT NULL DEFAULT now())"#,
    )
    .await
    .map_err(map_sqlx)?;
    let newest: Option<i64> = sqlx::query(r#"SELECT MAX("version") FROM "_alleato_migrations""#)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_sqlx)?
        .try_get(0)
        .map_err(map_sqlx)?;
    let mut applied = Vec::new();
    for (version, name, sql) in alleato_core::migrations::pending_under(MIGRATIONS, newest.unwrap_or(0), policy)? {
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(map_sqlx)?;
        tx.execute(*sql).await.map_err(map_sqlx)?;
        sqlx::query(r#"INSERT INTO "_alleato_migrations" ("version", "name") VALUES ($1, $2)"#)
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        applied.push(*name);
    }
    Ok(applied)
}
