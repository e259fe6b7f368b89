use alleato_core::ids::{ChatId, MessageId, UserId};
use alleato_core::model::{Chat, ChatCursorDirection, ChatPage, Role, StoredMessage, StreamRecord, Visibility, Vote};
use alleato_core::ports::{ChatStore, GenerationStart, QuotaUse};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use crate::SqliteDatabase;
use crate::errors::db;
use crate::rows::{json, named, parsed, timestamp, ts};

const CHAT_COLUMNS: &str = r#""id", "userId", "title", "visibility", "createdAt", "updatedAt""#;
const MESSAGE_COLUMNS: &str = r#""id", "chatId", "role", "parts", "attachments", "createdAt""#;

fn chat(row: &Row<'_>) -> rusqlite::Result<Chat> {
    Ok(Chat {
        id: parsed(row, 0)?,
        user_id: parsed(row, 1)?,
        title: row.get(2)?,
        visibility: named(row, 3, Visibility::parse)?,
        created_at: timestamp(row, 4)?,
        updated_at: timestamp(row, 5)?,
    })
}

fn message(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: parsed(row, 0)?,
        chat_id: parsed(row, 1)?,
        role: named(row, 2, Role::parse)?,
        parts: json(row, 3)?,
        attachments: json(row, 4)?,
        created_at: timestamp(row, 5)?,
    })
}

const S: Surface = Surface::Chat;

#[async_trait]
impl ChatStore for SqliteDatabase {
    async fn insert_chat(&self, c: &Chat) -> Result<()> {
        let c = c.clone();
        self.pool
            .write(move |tx| {
                tx.execute(
                    r#"INSERT INTO "Chat" ("id", "userId", "title", "visibility", "createdAt", "updatedAt")
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6)"#,
                    params![
                        c.id.to_string(),
                        c.user_id.to_string(),
                        c.title,
                        c.visibility.as_str(),
                        ts(&c.created_at),
                        ts(&c.updated_at)
                    ],
                )
                .map_err(db(S))?;
                Ok(())
            })
            .await
    }

    async fn chat(&self, id: ChatId) -> Result<Option<Chat>> {
        self.pool
            .read(move |c| {
                let sql = format!(r#"SELECT {CHAT_COLUMNS} FROM "Chat" WHERE "id" = ?1"#);
                c.prepare_cached(&sql).and_then(|mut s| s.query_row([id.to_string()], chat).optional()).map_err(db(S))
            })
            .await
    }

    async fn list_chats(&self, user: UserId, page: &ChatPage) -> Result<Vec<Chat>> {
        let page = *page;
        self.pool
            .read(move |c| {
                let user = user.to_string();
                // No LIMIT parameter: SQLite recompiles a statement whose LIMIT is bound on every
                // run. The index yields rows in order, so stopping after `limit` is as cheap.
                let limit = page.limit as usize;
                let Some((direction, cursor)) = page.cursor else {
                    let sql = format!(
                        r#"SELECT {CHAT_COLUMNS} FROM "Chat" WHERE "userId" = ?1
                           ORDER BY "createdAt" DESC, "id" DESC"#
                    );
                    let mut stmt = c.prepare_cached(&sql).map_err(db(S))?;
                    return stmt
                        .query_map(params![user], chat)
                        .and_then(|rows| rows.take(limit).collect())
                        .map_err(db(S));
                };
                let anchor: Option<(String, String)> = c
                    .prepare_cached(r#"SELECT "createdAt", "id" FROM "Chat" WHERE "id" = ?1 AND "userId" = ?2"#)
                    .and_then(|mut s| {
                        s.query_row(params![cursor.to_string(), user], |r| Ok((r.get(0)?, r.get(1)?))).optional()
                    })
                    .map_err(db(S))?;
                let Some((at, id)) = anchor else {
                    // Like any other id of a chat that is not yours: 404.
                    return Err(Error::NotFound {
                        surface: Surface::Chat,
                        message: "The cursor does not name one of your chats.".into(),
                    });
                };
                let sql = match direction {
                    // Older than the cursor: the next page down.
                    ChatCursorDirection::EndingBefore => format!(
                        r#"SELECT {CHAT_COLUMNS} FROM "Chat" WHERE "userId" = ?1 AND ("createdAt", "id") < (?2, ?3)
                           ORDER BY "createdAt" DESC, "id" DESC"#
                    ),
                    // Newer than the cursor: the page just above it, nearest first, reversed below.
                    ChatCursorDirection::StartingAfter => format!(
                        r#"SELECT {CHAT_COLUMNS} FROM "Chat" WHERE "userId" = ?1 AND ("createdAt", "id") > (?2, ?3)
                           ORDER BY "createdAt" ASC, "id" ASC"#
                    ),
                };
                let mut stmt = c.prepare_cached(&sql).map_err(db(S))?;
                let mut chats: Vec<Chat> = stmt
                    .query_map(params![user, at, id], chat)
                    .and_then(|rows| rows.take(limit).collect())
                    .map_err(db(S))?;
                if direction == ChatCursorDirection::StartingAfter {
                    chats.reverse();
                }
                Ok(chats)
            })
            .await
    }

    async fn update_chat(&self, c: &Chat) -> Result<()> {
        let c = c.clone();
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        r#"UPDATE "Chat" SET "title" = ?2, "visibility" = ?3, "updatedAt" = ?4 WHERE "id" = ?1"#,
                        params![c.id.to_string(), c.title, c.visibility.as_str(), ts(&c.updated_at)],
                    )
                    .map_err(db(S))?;
                if n == 0 { Err(Error::not_found(S)) } else { Ok(()) }
            })
            .await
    }

    async fn set_title_if(&self, id: ChatId, expected: &str, title: &str, at: Timestamp) -> Result<bool> {
        let (expected, title) = (expected.to_owned(), title.to_owned());
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(
                        r#"UPDATE "Chat" SET "title" = ?3, "updatedAt" = ?4 WHERE "id" = ?1 AND "title" = ?2"#,
                        params![id.to_string(), expected, title, ts(&at)],
                    )
                    .map_err(db(S))?;
                Ok(n > 0)
            })
            .await
    }

    async fn delete_chat(&self, id: ChatId) -> Result<()> {
        self.pool
            .write(move |tx| {
                let n = tx.execute(r#"DELETE FROM "Chat" WHERE "id" = ?1"#, [id.to_string()]).map_err(db(S))?;
                if n == 0 { Err(Error::not_found(S)) } else { Ok(()) }
            })
            .await
    }

    async fn delete_chats_of(&self, user: UserId) -> Result<u64> {
        self.pool
            .write(move |tx| {
                let n = tx.execute(r#"DELETE FROM "Chat" WHERE "userId" = ?1"#, [user.to_string()]).map_err(db(S))?;
                Ok(n as u64)
            })
            .await
    }

    async fn insert_messages(&self, messages: &[StoredMessage]) -> Result<()> {
        let rows = messages
            .iter()
            .map(|m| {
                let parts = serde_json::to_string(&m.parts).map_err(|e| Error::backend(Surface::Message, e))?;
                let attachments =
                    serde_json::to_string(&m.attachments).map_err(|e| Error::backend(Surface::Message, e))?;
                Ok((m.id.to_string(), m.chat_id.to_string(), m.role.as_str(), parts, attachments, ts(&m.created_at)))
            })
            .collect::<Result<Vec<_>>>()?;
        self.pool
            .write(move |tx| {
                let mut stmt = tx
                    .prepare_cached(
                        r#"INSERT INTO "Message_v2" ("id", "chatId", "userId", "role", "parts", "attachments", "createdAt")
                           VALUES (?1, ?2, (SELECT "userId" FROM "Chat" WHERE "id" = ?2), ?3, ?4, ?5, ?6)"#,
                    )
                    .map_err(db(Surface::Message))?;
                for (id, chat, role, parts, attachments, at) in rows {
                    stmt.execute(params![id, chat, role, parts, attachments, at]).map_err(db(Surface::Message))?;
                }
                Ok(())
            })
            .await
    }

    async fn messages(&self, chat: ChatId) -> Result<Vec<StoredMessage>> {
        self.pool
            .read(move |c| {
                let sql = format!(
                    r#"SELECT {MESSAGE_COLUMNS} FROM "Message_v2" WHERE "chatId" = ?1 ORDER BY "createdAt", "id""#
                );
                let mut stmt = c.prepare_cached(&sql).map_err(db(Surface::Message))?;
                stmt.query_map([chat.to_string()], message).and_then(Iterator::collect).map_err(db(Surface::Message))
            })
            .await
    }

    async fn message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        self.pool
            .read(move |c| {
                let sql = format!(r#"SELECT {MESSAGE_COLUMNS} FROM "Message_v2" WHERE "id" = ?1"#);
                c.prepare_cached(&sql)
                    .and_then(|mut s| s.query_row([id.to_string()], message).optional())
                    .map_err(db(Surface::Message))
            })
            .await
    }

    async fn delete_messages_from(&self, chat: ChatId, from: Timestamp) -> Result<u64> {
        self.pool
            .write(move |tx| {
                // Votes on these messages go with them (ON DELETE CASCADE).
                let n = tx
                    .execute(
                        r#"DELETE FROM "Message_v2" WHERE "chatId" = ?1 AND "createdAt" >= ?2"#,
                        params![chat.to_string(), ts(&from)],
                    )
                    .map_err(db(Surface::Message))?;
                Ok(n as u64)
            })
            .await
    }

    async fn take_generation_quota(&self, start: &GenerationStart) -> Result<QuotaUse> {
        let start = start.clone();
        self.pool
            .write(move |tx| {
                let user = start.user.to_string();
                let user_exists = tx
                    .prepare_cached(r#"SELECT 1 FROM "User" WHERE "id" = ?1"#)
                    .and_then(|mut s| s.exists(params![user]))
                    .map_err(db(S))?;
                if !user_exists {
                    return Err(Error::not_found(Surface::User));
                }
                // The writer runs one transaction at a time: count and insert cannot interleave.
                tx.prepare_cached(r#"DELETE FROM "GenerationStart" WHERE "userId" = ?1 AND "createdAt" < ?2"#)
                    .and_then(|mut s| s.execute(params![user, ts(&start.since)]))
                    .map_err(db(S))?;
                let (count, oldest): (i64, Option<String>) = tx
                    .prepare_cached(
                        r#"SELECT COUNT(*), MIN("createdAt") FROM "GenerationStart" WHERE "userId" = ?1 AND "createdAt" >= ?2"#,
                    )
                    .and_then(|mut s| s.query_row(params![user, ts(&start.since)], |r| Ok((r.get(0)?, r.get(1)?))))
                    .map_err(db(S))?;
                let (used, mut oldest) = (count as u64, oldest.as_deref().and_then(alleato_core::time::parse_sortable));
                if used >= start.limit {
                    return Ok(QuotaUse { allowed: false, used, oldest });
                }
                tx.prepare_cached(r#"INSERT INTO "GenerationStart" ("id", "userId", "createdAt") VALUES (?1, ?2, ?3)"#)
                    .and_then(|mut s| s.execute(params![start.id.to_string(), user, ts(&start.at)]))
                    .map_err(db(S))?;
                oldest = Some(oldest.map_or(start.at, |o| o.min(start.at)));
                Ok(QuotaUse { allowed: true, used: used + 1, oldest })
            })
            .await
    }

    async fn set_vote(&self, v: &Vote) -> Result<()> {
        let v = v.clone();
        self.pool
            .write(move |tx| {
                // Only a message of that very chat can be voted on.
                let n = tx
                    .execute(
                        r#"INSERT INTO "Vote_v2" ("chatId", "messageId", "isUpvoted")
                           SELECT ?1, ?2, ?3 WHERE EXISTS
                             (SELECT 1 FROM "Message_v2" WHERE "id" = ?2 AND "chatId" = ?1)
                           ON CONFLICT ("chatId", "messageId") DO UPDATE SET "isUpvoted" = excluded."isUpvoted""#,
                        params![v.chat_id.to_string(), v.message_id.to_string(), v.is_upvoted],
                    )
                    .map_err(db(Surface::Vote))?;
                if n == 0 { Err(Error::not_found(Surface::Message)) } else { Ok(()) }
            })
            .await
    }

    async fn votes(&self, chat: ChatId) -> Result<Vec<Vote>> {
        self.pool
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(r#"SELECT "chatId", "messageId", "isUpvoted" FROM "Vote_v2" WHERE "chatId" = ?1 ORDER BY "messageId""#)
                    .map_err(db(Surface::Vote))?;
                stmt.query_map([chat.to_string()], |r| {
                    Ok(Vote { chat_id: parsed(r, 0)?, message_id: parsed(r, 1)?, is_upvoted: r.get(2)? })
                })
                .and_then(Iterator::collect)
                .map_err(db(Surface::Vote))
            })
            .await
    }

    async fn insert_stream(&self, s: &StreamRecord) -> Result<()> {
        let s = s.clone();
        self.pool
            .write(move |tx| {
                tx.execute(
                    r#"INSERT INTO "Stream" ("id", "chatId", "createdAt") VALUES (?1, ?2, ?3)"#,
                    params![s.id.to_string(), s.chat_id.to_string(), ts(&s.created_at)],
                )
                .map_err(db(Surface::Stream))?;
                Ok(())
            })
            .await
    }

    async fn streams(&self, chat: ChatId) -> Result<Vec<StreamRecord>> {
        self.pool
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(r#"SELECT "id", "chatId", "createdAt" FROM "Stream" WHERE "chatId" = ?1 ORDER BY "createdAt", "id""#)
                    .map_err(db(Surface::Stream))?;
                stmt.query_map([chat.to_string()], |r| {
                    Ok(StreamRecord { id: parsed(r, 0)?, chat_id: parsed(r, 1)?, created_at: timestamp(r, 2)? })
                })
                .and_then(Iterator::collect)
                .map_err(db(Surface::Stream))
            })
            .await
    }
}
