//! A generation's start and end, each one transaction.

use alleato_core::model::StoredMessage;
use alleato_core::ports::{GenerationBegin, GenerationBegun, GenerationStart, QuotaUse, TitleUpdate};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use sqlx::{PgConnection, Row};

use super::{S, delete_messages_from, insert_chat, insert_message, insert_stream, message, select_messages, set_title};
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
        insert_chat(c).execute(&mut *tx).await.map_err(db(S))?;
    }
    let m = Surface::Message;
    let chat = begin.message.chat_id;
    if let Some(from) = begin.delete_from {
        delete_messages_from(chat, from).execute(&mut *tx).await.map_err(db(m))?;
    }
    insert_message(&begin.message).execute(&mut *tx).await.map_err(db(m))?;
    insert_stream(&begin.stream).execute(&mut *tx).await.map_err(db(Surface::Stream))?;
    let rows = select_messages(chat).fetch_all(&mut *tx).await.map_err(db(m))?;
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
        let done = set_title(t.chat, &t.expected, &t.title, t.at).execute(&mut *tx).await.map_err(db(S))?;
        title_set = done.rows_affected() > 0;
    }
    tx.commit().await.map_err(db(S))?;
    Ok(title_set)
}
