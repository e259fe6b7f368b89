use alleato_core::ids::{SessionId, UserId};
use alleato_core::model::{Stats, User, UserKind};
use alleato_core::ports::{DatabaseAdmin, SessionRevocation, UserStore};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::PostgresDatabase;
use crate::errors::db;

const S: Surface = Surface::User;

/// Reads a text column that must be one of an enum's names.
pub(crate) fn named<T>(row: &PgRow, idx: usize, parse: fn(&str) -> Option<T>) -> sqlx::Result<T> {
    let text: String = row.try_get(idx)?;
    parse(&text).ok_or_else(|| sqlx::Error::Decode(format!("unexpected value {text:?} in column {idx}").into()))
}

pub(crate) fn user(row: &PgRow) -> sqlx::Result<User> {
    Ok(User {
        id: UserId(row.try_get(0)?),
        email: row.try_get(1)?,
        kind: named(row, 2, UserKind::parse)?,
        password_hash: row.try_get(3)?,
        created_at: row.try_get(4)?,
        sessions_valid_from: row.try_get(5)?,
    })
}

macro_rules! select_user {
    () => {
        r#"SELECT "id", "email", "type", "password", "createdAt", "sessionsValidFrom" FROM "User""#
    };
}

#[async_trait]
impl UserStore for PostgresDatabase {
    async fn insert_user(&self, u: &User) -> Result<()> {
        sqlx::query(
            r#"INSERT INTO "User" ("id", "email", "type", "password", "createdAt", "sessionsValidFrom") VALUES ($1, $2, $3, $4, $5, $6)"#,
        )
        .bind(u.id.0)
        .bind(&u.email)
        .bind(u.kind.as_str())
        .bind(&u.password_hash)
        .bind(u.created_at)
        .bind(u.sessions_valid_from)
        .execute(&self.pool)
        .await
        .map_err(db(S))?;
        Ok(())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let row = sqlx::query(concat!(select_user!(), r#" WHERE "id" = $1"#))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db(S))?;
        row.as_ref().map(user).transpose().map_err(db(S))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!(select_user!(), r#" WHERE "email" = $1"#))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(db(S))?;
        row.as_ref().map(user).transpose().map_err(db(S))
    }

    async fn update_user(&self, u: &User) -> Result<()> {
        let done = sqlx::query(
            r#"UPDATE "User" SET "email" = $2, "type" = $3, "password" = $4, "sessionsValidFrom" = $5 WHERE "id" = $1"#,
        )
        .bind(u.id.0)
        .bind(&u.email)
        .bind(u.kind.as_str())
        .bind(&u.password_hash)
        .bind(u.sessions_valid_from)
        .execute(&self.pool)
        .await
        .map_err(db(S))?;
        if done.rows_affected() == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        let done =
            sqlx::query(r#"DELETE FROM "User" WHERE "id" = $1"#).bind(id.0).execute(&self.pool).await.map_err(db(S))?;
        if done.rows_affected() == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn revoke_session(&self, r: &SessionRevocation, forget_before: Timestamp) -> Result<()> {
        sqlx::query(
            r#"WITH "forgotten" AS (DELETE FROM "SessionRevocation" WHERE "revokedAt" < $3)
               INSERT INTO "SessionRevocation" ("id", "revokedAt") VALUES ($1, $2) ON CONFLICT ("id") DO NOTHING"#,
        )
        .bind(r.session.0)
        .bind(r.revoked_at)
        .bind(forget_before)
        .execute(&self.pool)
        .await
        .map_err(db(S))?;
        Ok(())
    }

    async fn revoked_sessions(&self, since: Timestamp) -> Result<Vec<SessionRevocation>> {
        let rows = sqlx::query(
            r#"SELECT "id", "revokedAt" FROM "SessionRevocation" WHERE "revokedAt" >= $1 ORDER BY "revokedAt", "id""#,
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(db(S))?;
        rows.iter()
            .map(|r| Ok(SessionRevocation { session: SessionId(r.try_get(0)?), revoked_at: r.try_get(1)? }))
            .collect::<sqlx::Result<_>>()
            .map_err(db(S))
    }
}

#[async_trait]
impl DatabaseAdmin for PostgresDatabase {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop).map_err(db(Surface::Database))
    }

    async fn stats(&self) -> Result<Stats> {
        let row = sqlx::query(
            r#"SELECT
                (SELECT COUNT(*) FROM "User" WHERE "type" = 'regular'),
                (SELECT COUNT(*) FROM "User" WHERE "type" = 'guest'),
                (SELECT COUNT(*) FROM "Chat"),
                (SELECT COUNT(*) FROM "Message_v2"),
                (SELECT COUNT(DISTINCT "id") FROM "Document"),
                (SELECT COUNT(*) FROM "File"),
                (SELECT COALESCE(SUM("size"), 0)::bigint FROM "File")"#,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db(Surface::Database))?;
        let n = |i: usize| row.try_get::<i64, _>(i).map(|v| v as u64).map_err(db(Surface::Database));
        Ok(Stats {
            users: n(0)?,
            guests: n(1)?,
            chats: n(2)?,
            messages: n(3)?,
            documents: n(4)?,
            files: n(5)?,
            file_bytes: n(6)?,
            dual_write: None,
        })
    }
}
