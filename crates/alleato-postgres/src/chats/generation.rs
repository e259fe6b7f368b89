//! A generation's start and end. The start is one transaction of five round trips (`BEGIN`,
//! the user's lock, the quota, the writes with the history, `COMMIT`; a regeneration adds its
//! delete); the end is one statement.

use alleato_core::model::StoredMessage;
use alleato_core::ports::{GenerationBegin, GenerationBegun, GenerationStart, QuotaUse, TitleUpdate};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use sqlx::types::Json;
use sqlx::{PgConnection, Row};

use super::{S, bind_message, delete_messages_from, insert_message, message, set_title};
use crate::PostgresDatabase;
use crate::errors::db;

/// Takes the quota inside `tx`, which it leaves open: the caller commits (also when refused,
/// so the dropped old records stay dropped) or rolls back.
pub(super) async fn take_quota(tx: &mut PgConnection, start: &GenerationStart) -> Result<QuotaUse> {
    // The user's row is the lock: concurrent starts of one user (on any instance) take
    // turns, and each counts what the previous ones committed. `NO KEY UPDATE`, so that rows
    // referring to the user (whose foreign-key checks take `KEY SHARE`) are not held up, nor
    // a transaction inserting them caught in a deadlock with this one.
    let locked = sqlx::query(r#"SELECT 1 FROM "User" WHERE "id" = $1 FOR NO KEY UPDATE"#)
        .bind(start.user.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(S))?;
    if locked.is_none() {
        return Err(Error::not_found(Surface::User));
    }
    // After the lock, one statement under one snapshot (taken after the lock, so it counts
    // what the previous holders committed): drop the records older than the window, count the
    // rest, and record this start only if the count allows. The parts of a statement do not see
    // each other's writes, so the count is of the records before this start.
    let row = sqlx::query(
        r#"WITH "gone" AS (
               DELETE FROM "GenerationStart" WHERE "userId" = $1 AND "createdAt" < $2
           ), "counted" AS (
               SELECT COUNT(*) AS "used", MIN("createdAt") AS "oldest" FROM "GenerationStart"
               WHERE "userId" = $1 AND "createdAt" >= $2
           ), "taken" AS (
               INSERT INTO "GenerationStart" ("id", "userId", "createdAt")
               SELECT $3, $1, $4 FROM "counted" WHERE "used" < $5
           )
           SELECT "used", "oldest" FROM "counted""#,
    )
    .bind(start.user.0)
    .bind(start.since)
    .bind(start.id.0)
    .bind(start.at)
    .bind(i64::try_from(start.limit).unwrap_or(i64::MAX))
    .fetch_one(&mut *tx)
    .await
    .map_err(db(S))?;
    let used = row.try_get::<i64, _>(0).map_err(db(S))? as u64;
    let oldest: Option<Timestamp> = row.try_get(1).map_err(db(S))?;
    if used >= start.limit {
        return Ok(QuotaUse { allowed: false, used, oldest });
    }
    Ok(QuotaUse { allowed: true, used: used + 1, oldest: Some(oldest.map_or(start.at, |o| o.min(start.at))) })
}

/// A generation's writes and the history they leave, in one statement: the new chat (if
/// any), the user's message, the stream record; then the chat's messages. The history cannot
/// read the statement's own writes, so it is the messages before them plus the new one. Foreign
/// keys are checked at the end of the statement, so the message may point at the chat inserted
/// beside it.
const BEGIN_WRITES: &str = r#"WITH "chat" AS (
        INSERT INTO "Chat" ("id", "userId", "title", "visibility", "createdAt", "updatedAt")
        SELECT $1, $2, $3, $4, $5, $6 WHERE $7
    ), "message" AS (
        INSERT INTO "Message_v2" ("id", "chatId", "userId", "role", "parts", "attachments", "createdAt")
        VALUES ($8, $1, COALESCE((SELECT "userId" FROM "Chat" WHERE "id" = $1), $2), $9, $10, $11, $12)
    ), "stream" AS (
        INSERT INTO "Stream" ("id", "chatId", "createdAt") VALUES ($13, $1, $14)
    )
    SELECT "id", "chatId", "role", "parts", "attachments", "createdAt" FROM "Message_v2" WHERE "chatId" = $1
    UNION ALL SELECT $8, $1, $9, $10, $11, $12
    ORDER BY 6, 1"#;

pub(super) async fn begin(pg: &PostgresDatabase, begin: &GenerationBegin) -> Result<GenerationBegun> {
    let mut tx = pg.pool.begin().await.map_err(db(S))?;
    let quota = take_quota(&mut tx, &begin.quota).await?;
    if !quota.allowed {
        tx.commit().await.map_err(db(S))?;
        return Ok(GenerationBegun { quota, history: vec![] });
    }
    let (m, chat) = (&begin.message, begin.message.chat_id);
    debug_assert!(begin.new_chat.as_ref().is_none_or(|c| c.id == chat), "a new chat is the message's");
    debug_assert!(begin.stream.chat_id == chat, "the stream is the message's chat's");
    // Without a new chat, its columns are bound but unused (`WHERE false`).
    let (title, visibility, created, updated) = match &begin.new_chat {
        Some(c) => (c.title.as_str(), c.visibility.as_str(), c.created_at, c.updated_at),
        None => ("", "private", m.created_at, m.created_at),
    };
    let owner = begin.new_chat.as_ref().map_or(begin.quota.user, |c| c.user_id);
    // A regeneration may store the edited message under the id of one it deletes: the delete
    // must be a statement of its own, since a statement's parts all check keys against the rows
    // as they were before it.
    if let Some(from) = begin.delete_from {
        delete_messages_from(chat, from).execute(&mut *tx).await.map_err(db(Surface::Message))?;
    }
    let rows = sqlx::query(BEGIN_WRITES)
        .bind(chat.0)
        .bind(owner.0)
        .bind(title)
        .bind(visibility)
        .bind(created)
        .bind(updated)
        .bind(begin.new_chat.is_some())
        .bind(m.id.0)
        .bind(m.role.as_str())
        .bind(Json(&m.parts))
        .bind(Json(&m.attachments))
        .bind(m.created_at)
        .bind(begin.stream.id.0)
        .bind(begin.stream.created_at)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(S))?;
    let history = rows.iter().map(message).collect::<sqlx::Result<_>>().map_err(db(Surface::Message))?;
    tx.commit().await.map_err(db(S))?;
    Ok(GenerationBegun { quota, history })
}

/// The answer and the title in one statement: atomic by itself, so no transaction around it.
const FINISH_BOTH: &str = concat!(
    r#"WITH "answer" AS ("#,
    insert_message_sql!(),
    r#") UPDATE "Chat" SET "title" = $9, "updatedAt" = $10 WHERE "id" = $7 AND "title" = $8"#
);

pub(super) async fn finish(
    pg: &PostgresDatabase,
    answer: Option<&StoredMessage>,
    title: Option<&TitleUpdate>,
) -> Result<bool> {
    let done = match (answer, title) {
        (None, None) => return Ok(false),
        (Some(answer), None) => {
            insert_message(answer).execute(&pg.pool).await.map_err(db(Surface::Message))?;
            return Ok(false);
        }
        (None, Some(t)) => set_title(t.chat, &t.expected, &t.title, t.at).execute(&pg.pool).await,
        (Some(a), Some(t)) => {
            bind_message(sqlx::query(FINISH_BOTH), a)
                .bind(t.chat.0)
                .bind(&t.expected)
                .bind(&t.title)
                .bind(t.at)
                .execute(&pg.pool)
                .await
        }
    };
    Ok(done.map_err(db(S))?.rows_affected() > 0)
}
