use alleato_core::ids::UserId;
use alleato_core::model::{Stats, User, UserKind};
use alleato_core::ports::{DatabaseAdmin, SessionRevocation, UserStore};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use crate::SqlDatabase;
use crate::sql::{Executor, Row, SqlError, Statement, ts};

macro_rules! select_user {
    () => {
        r#"SELECT "id", "email", "type", "password", "createdAt", "sessionsValidFrom" FROM "User""#
    };
}

pub(crate) fn user(mut row: Row) -> Result<User, SqlError> {
    Ok(User {
        id: row.parsed(0)?,
        email: row.text(1)?,
        kind: row.named(2, UserKind::parse)?,
        password_hash: row.text_opt(3)?,
        created_at: row.timestamp(4)?,
        sessions_valid_from: row.timestamp_opt(5)?,
    })
}

fn stats(mut row: Row) -> Result<Stats, SqlError> {
    Ok(Stats {
        users: row.count(0)?,
        guests: row.count(1)?,
        chats: row.count(2)?,
        messages: row.count(3)?,
        documents: row.count(4)?,
        files: row.count(5)?,
        file_bytes: row.count(6)?,
        dual_write: None,
    })
}

const S: Surface = Surface::User;

#[async_trait]
impl<E: Executor> UserStore for SqlDatabase<E> {
    async fn insert_user(&self, u: &User) -> Result<()> {
        let insert = Statement::new(
            r#"INSERT INTO "User" ("id", "email", "type", "password", "createdAt", "sessionsValidFrom")
               VALUES (?1, ?2, ?3, ?4, ?5, ?6)"#,
        )
        .bind(u.id.to_string())
        .bind(u.email.as_str())
        .bind(u.kind.as_str())
        .bind(u.password_hash.as_deref())
        .bind(ts(&u.created_at))
        .bind(u.sessions_valid_from.as_ref().map(ts));
        self.write(S, insert).await.map(drop)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.optional(S, Statement::new(concat!(select_user!(), r#" WHERE "id" = ?1"#)).bind(id.to_string()), user)
            .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.optional(S, Statement::new(concat!(select_user!(), r#" WHERE "email" = ?1"#)).bind(email), user).await
    }

    async fn update_user(&self, u: &User) -> Result<()> {
        let update = Statement::new(
            r#"UPDATE "User" SET "email" = ?2, "type" = ?3, "password" = ?4, "sessionsValidFrom" = ?5
               WHERE "id" = ?1"#,
        )
        .bind(u.id.to_string())
        .bind(u.email.as_str())
        .bind(u.kind.as_str())
        .bind(u.password_hash.as_deref())
        .bind(u.sessions_valid_from.as_ref().map(ts));
        if self.write(S, update).await? == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        // Foreign keys cascade to chats, messages, votes, streams, documents, suggestions and
        // files.
        let delete = Statement::new(r#"DELETE FROM "User" WHERE "id" = ?1"#).bind(id.to_string());
        if self.write(S, delete).await? == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn revoke_session(&self, r: &SessionRevocation, forget_before: Timestamp) -> Result<()> {
        let batch = vec![
            Statement::new(r#"DELETE FROM "SessionRevocation" WHERE "revokedAt" < ?1"#).bind(ts(&forget_before)),
            Statement::new(
                r#"INSERT INTO "SessionRevocation" ("id", "revokedAt") VALUES (?1, ?2) ON CONFLICT ("id") DO NOTHING"#,
            )
            .bind(r.session.to_string())
            .bind(ts(&r.revoked_at)),
        ];
        self.write_all(S, batch).await.map(drop)
    }

    async fn revoked_sessions(&self, since: Timestamp) -> Result<Vec<SessionRevocation>> {
        let select = Statement::new(
            r#"SELECT "id", "revokedAt" FROM "SessionRevocation" WHERE "revokedAt" >= ?1 ORDER BY "revokedAt", "id""#,
        )
        .bind(ts(&since));
        self.all(S, select, |mut r| Ok(SessionRevocation { session: r.parsed(0)?, revoked_at: r.timestamp(1)? })).await
    }
}

#[async_trait]
impl<E: Executor> DatabaseAdmin for SqlDatabase<E> {
    async fn ping(&self) -> Result<()> {
        self.all(Surface::Database, Statement::new("SELECT 1"), |_| Ok(())).await.map(drop)
    }

    async fn stats(&self) -> Result<Stats> {
        let counts = Statement::new(
            r#"SELECT
                (SELECT COUNT(*) FROM "User" WHERE "type" = 'regular'),
                (SELECT COUNT(*) FROM "User" WHERE "type" = 'guest'),
                (SELECT COUNT(*) FROM "Chat"),
                (SELECT COUNT(*) FROM "Message_v2"),
                (SELECT COUNT(*) FROM (SELECT DISTINCT "id" FROM "Document")),
                (SELECT COUNT(*) FROM "File"),
                (SELECT COALESCE(SUM("size"), 0) FROM "File")"#,
        );
        self.optional(Surface::Database, counts.scans(), stats)
            .await?
            .ok_or_else(|| Error::backend(Surface::Database, "the counts query returned no row"))
    }
}
