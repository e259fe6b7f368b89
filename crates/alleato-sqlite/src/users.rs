use alleato_core::ids::UserId;
use alleato_core::model::{Stats, User, UserKind};
use alleato_core::ports::{DatabaseAdmin, UserStore};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use crate::SqliteDatabase;
use crate::errors::db;
use crate::rows::{named, optional_timestamp, parsed, timestamp, ts};

const USER_COLUMNS: &str = r#""id", "email", "type", "password", "createdAt", "sessionsValidFrom""#;

fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: parsed(row, 0)?,
        email: row.get(1)?,
        kind: named(row, 2, UserKind::parse)?,
        password_hash: row.get(3)?,
        created_at: timestamp(row, 4)?,
        sessions_valid_from: optional_timestamp(row, 5)?,
    })
}

const S: Surface = Surface::User;

#[async_trait]
impl UserStore for SqliteDatabase {
    async fn insert_user(&self, u: &User) -> Result<()> {
        let u = u.clone();
        self.pool
            .write(move |tx| {
                tx.execute(
                    r#"INSERT INTO "User" ("id", "email", "type", "password", "createdAt", "sessionsValidFrom")
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6)"#,
                    params![
                        u.id.to_string(),
                        u.email,
                        u.kind.as_str(),
                        u.password_hash,
                        ts(&u.created_at),
                        u.sessions_valid_from.as_ref().map(ts)
                    ],
                )
                .map_err(db(S))?;
                Ok(())
            })
            .await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.pool
            .read(move |c| {
                let sql = format!(r#"SELECT {USER_COLUMNS} FROM "User" WHERE "id" = ?1"#);
                c.prepare_cached(&sql).and_then(|mut s| s.query_row([id.to_string()], user).optional()).map_err(db(S))
            })
            .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = email.to_owned();
        self.pool
            .read(move |c| {
                let sql = format!(r#"SELECT {USER_COLUMNS} FROM "User" WHERE "email" = ?1"#);
                c.prepare_cached(&sql).and_then(|mut s| s.query_row([email], user).optional()).map_err(db(S))
            })
            .await
    }

    async fn update_user(&self, u: &User) -> Result<()> {
        let u = u.clone();
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        r#"UPDATE "User" SET "email" = ?2, "type" = ?3, "password" = ?4, "sessionsValidFrom" = ?5
                           WHERE "id" = ?1"#,
                        params![
                            u.id.to_string(),
                            u.email,
                            u.kind.as_str(),
                            u.password_hash,
                            u.sessions_valid_from.as_ref().map(ts)
                        ],
                    )
                    .map_err(db(S))?;
                if n == 0 { Err(Error::not_found(S)) } else { Ok(()) }
            })
            .await
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        self.pool
            .write(move |tx| {
                // Foreign keys cascade to chats, messages, votes, streams, documents,
                // suggestions and files.
                let n = tx.execute(r#"DELETE FROM "User" WHERE "id" = ?1"#, [id.to_string()]).map_err(db(S))?;
                if n == 0 { Err(Error::not_found(S)) } else { Ok(()) }
            })
            .await
    }
}

#[async_trait]
impl DatabaseAdmin for SqliteDatabase {
    async fn ping(&self) -> Result<()> {
        self.pool
            .read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(drop).map_err(db(Surface::Database)))
            .await
    }

    async fn stats(&self) -> Result<Stats> {
        self.pool
            .read_blocking(|c| {
                c.query_row(
                    r#"SELECT
                        (SELECT COUNT(*) FROM "User" WHERE "type" = 'regular'),
                        (SELECT COUNT(*) FROM "User" WHERE "type" = 'guest'),
                        (SELECT COUNT(*) FROM "Chat"),
                        (SELECT COUNT(*) FROM "Message_v2"),
                        (SELECT COUNT(*) FROM (SELECT DISTINCT "id" FROM "Document")),
                        (SELECT COUNT(*) FROM "File"),
                        (SELECT COALESCE(SUM("size"), 0) FROM "File")"#,
                    [],
                    |r| {
                        Ok(Stats {
                            users: r.get::<_, i64>(0)? as u64,
                            guests: r.get::<_, i64>(1)? as u64,
                            chats: r.get::<_, i64>(2)? as u64,
                            messages: r.get::<_, i64>(3)? as u64,
                            documents: r.get::<_, i64>(4)? as u64,
                            files: r.get::<_, i64>(5)? as u64,
                            file_bytes: r.get::<_, i64>(6)? as u64,
                        })
                    },
                )
                .map_err(db(Surface::Database))
            })
            .await
    }
}
