//! A generation's start and end, each one transaction.

use alleato_core::model::StoredMessage;
use alleato_core::ports::{GenerationBegin, GenerationBegun, GenerationStart, QuotaUse, TitleUpdate};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use sqlx::{PgConnection, Row};

use super::{S, insert_message, message};
use crate::PostgresDatabase;
use crate::errors::db;

/// Takes the quota inside `tx`, which it leaves open: the caller commits (also when refused,
/// so the dropped old records stay dropped) or rolls back.
pub(super) async fn take_quota(tx: &mut PgConnection, start: &GenerationStart) -> Result<QuotaUse> {
    // The user's row is the lock: concurrent starts of one user (on any instance) take
    // turns, and each counts what the previous ones committed.
    let locked = sqlx::query(r#"SELECT 1 FROM "User" WHERE "id" = $1 FOR UPDATE"#)
        .bind(start.user.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(S))?;
    if locked.is_none() {
        return Err(Error::not_found(Surface::User));
    }
    sqlx::query(r#"DELETE FROM "GenerationStart" WHERE "userId" = $1 AND "createdAt" < $2"#)
        .bind(start.user.0)
        .bind(start.since)
        .execute(&mut *tx)
        .await
        .map_err(db(S))?;
    let row = sqlx::query(
        r#"SELECT COUNT(*), MIN("createdAt") FROM "GenerationStart" WHERE "userId" = $1 AND "createdAt" >= $2"#,
    )
    .bind(start.user.0)
    .bind(start.since)
    .fetch_one(&mut *tx)
    .await
    .map_err(db(S))?;
    let used = row.try_get::<i64, _>(0).map_err(db(S))? as u64;
    let oldest: Option<Timestamp> = row.try_get(1).map_err(db(S))?;
    if used >= start.limit {
        return Ok(QuotaUse { allowed: false, used, oldest });
    }
    sqlx::query(r#"INSERT INTO "GenerationStart" ("id", "userId", "createdAt") VALUES ($1, $2, $3)"#)
        .bind(start.id.0)
        .bind(start.user.0)
        .bind(start.at)
        .execute(&mut *tx)
        .await
        .map_err(db(S))?;
    Ok(QuotaUse { allowed: true, used: used + 1, oldest: Some(oldest.map_or(start.at, |o| o.min(start.at))) })
}

pub(super) async fn begin(pg: &PostgresDatabase, begin: &GenerationBegin) -> Result<GenerationBegun> {
    let mut tx = pg.pool.begin().await.map_err(db(S))?;
    let quota = take_quota(&mut tx, &begin.quota).await?;
    if !quota.allowed {
        tx.commit().await.map_err(db(S))?;
        return Ok(GenerationBegun { quota, history: vec![] });
    }
    if let Some(c) = &begin.new_chat {
        sqlx::query(
            r#"INSERT INTO "Chat" ("id", "userId", "title", "visibility", "createdAt", "updatedAt") VALUES ($1, $2, $3, $4, $5, $6)"#,
        )
        .bind(c.id.0)
        .bind(c.user_id.0)
        .bind(&c.title)
        .bind(c.visibility.as_str())
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db(S))?;
    }
    let m = Surface::Message;
    let chat = begin.message.chat_id;
    if let Some(from) = begin.delete_from {
        sqlx::query(r#"DELETE FROM "Message_v2" WHERE "chatId" = $1 AND "createdAt" >= $2"#)
            .bind(chat.0)
            .bind(from)
            .execute(&mut *tx)
            .await
            .map_err(db(m))?;
    }
    insert_message(&begin.message).execute(&mut *tx).await.map_err(db(m))?;
    sqlx::query(r#"INSERT INTO "Stream" ("id", "chatId", "createdAt") VALUES ($1, $2, $3)"#)
        .bind(begin.stream.id.0)
        .bind(begin.stream.chat_id.0)
        .bind(begin.stream.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db(Surface::Stream))?;
    let rows = sqlx::query(concat!(select_message!(), r#" WHERE "chatId" = $1 ORDER BY "createdAt", "id""#))
        .bind(chat.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(m))?;
    let history = rows.iter().map(message).collect::<sqlx::Result<_>>().map_err(db(m))?;
    tx.commit().await.map_err(db(S))?;
    Ok(GenerationBegun { quota, history })
}

pub(super) async fn finish(
    pg: &PostgresDatabase,
    answer: Option<&StoredMessage>,
    title: Option<&TitleUpdate>,
) -> Result<bool> {
    let mut tx = pg.pool.begin().await.map_err(db(S))?;
    if let Some(answer) = answer {
        insert_message(answer).execute(&mut *tx).await.map_err(db(Surface::Message))?;
    }
    let mut title_set = false;
    if let Some(t) = title {
        let done = sqlx::query(r#"UPDATE "Chat" SET "title" = $3, "updatedAt" = $4 WHERE "id" = $1 AND "title" = $2"#)
            .bind(t.chat.0)
            .bind(&t.expected)
            .bind(&t.title)
            .bind(t.at)
            .execute(&mut *tx)
            .await
            .map_err(db(S))?;
        title_set = done.rows_affected() > 0;
    }
    tx.commit().await.map_err(db(S))?;
    Ok(title_set)
}
