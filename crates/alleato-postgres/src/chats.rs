use alleato_core::ids::{ChatId, MessageId, StreamId, UserId};
use alleato_core::model::{
    Chat, ChatCursorDirection, ChatPage, MessagePart, Role, StoredMessage, StreamRecord, Visibility, Vote,
};
use alleato_core::ports::{ChatStore, GenerationBegin, GenerationBegun, GenerationStart, QuotaUse, TitleUpdate};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;

use crate::PostgresDatabase;
use crate::errors::db;
use crate::users::named;

const S: Surface = Surface::Chat;
macro_rules! select_chat {
    () => {
        r#"SELECT "id", "userId", "title", "visibility", "createdAt", "updatedAt" FROM "Chat""#
    };
}
macro_rules! select_message {
    () => {
        r#"SELECT "id", "chatId", "role", "parts", "attachments", "createdAt" FROM "Message_v2""#
    };
}
/// Inserts a message bound as `$1`..`$6` by `bind_message`; also the head of a statement that
/// does more beside it.
macro_rules! insert_message_sql {
    () => {
        r#"INSERT INTO "Message_v2" ("id", "chatId", "userId", "role", "parts", "attachments", "createdAt")
           VALUES ($1, $2, (SELECT "userId" FROM "Chat" WHERE "id" = $2), $3, $4, $5, $6)"#
    };
}

mod generation;

pub(crate) fn chat(row: &PgRow) -> sqlx::Result<Chat> {
    Ok(Chat {
        id: ChatId(row.try_get(0)?),
        user_id: UserId(row.try_get(1)?),
        title: row.try_get(2)?,
        visibility: named(row, 3, Visibility::parse)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

pub(crate) fn message(row: &PgRow) -> sqlx::Result<StoredMessage> {
    message_at(row, 0)
}

/// A message from the six columns of `select_message!` starting at column `at`.
fn message_at(row: &PgRow, at: usize) -> sqlx::Result<StoredMessage> {
    let Json(parts): Json<Vec<MessagePart>> = row.try_get(at + 3)?;
    let Json(attachments): Json<Vec<serde_json::Value>> = row.try_get(at + 4)?;
    Ok(StoredMessage {
        id: MessageId(row.try_get(at)?),
        chat_id: ChatId(row.try_get(at + 1)?),
        role: named(row, at + 2, Role::parse)?,
        parts,
        attachments,
        created_at: row.try_get(at + 5)?,
    })
}

/// A chat with its messages in one round trip: the chat's columns, then a message's (all null
/// for a chat without messages), one row per message, oldest first.
const CHAT_WITH_MESSAGES: &str = r#"SELECT c."id", c."userId", c."title", c."visibility", c."createdAt", c."updatedAt",
    m."id", m."chatId", m."role", m."parts", m."attachments", m."createdAt"
    FROM "Chat" c LEFT JOIN "Message_v2" m ON m."chatId" = c."id"
    WHERE c."id" = $1 ORDER BY m."createdAt", m."id""#;

#[async_trait]
impl ChatStore for PostgresDatabase {
    async fn insert_chat(&self, c: &Chat) -> Result<()> {
        insert_chat(c).execute(&self.pool).await.map_err(db(S))?;
        Ok(())
    }

    async fn chat(&self, id: ChatId) -> Result<Option<Chat>> {
        let row = sqlx::query(concat!(select_chat!(), r#" WHERE "id" = $1"#))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db(S))?;
        row.as_ref().map(chat).transpose().map_err(db(S))
    }

    async fn list_chats(&self, user: UserId, page: &ChatPage) -> Result<Vec<Chat>> {
        let limit = i64::from(page.limit);
        let rows = match page.cursor {
            None => sqlx::query(concat!(
                select_chat!(),
                r#" WHERE "userId" = $1 ORDER BY "createdAt" DESC, "id" DESC LIMIT $2"#
            ))
            .bind(user.0)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db(S))?,
            Some((direction, cursor)) => {
                let anchor = sqlx::query(r#"SELECT "createdAt", "id" FROM "Chat" WHERE "id" = $1 AND "userId" = $2"#)
                    .bind(cursor.0)
                    .bind(user.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db(S))?;
                let Some(anchor) = anchor else { return Err(ChatPage::unknown_cursor()) };
                let at: Timestamp = anchor.try_get(0).map_err(db(S))?;
                let sql = match direction {
                    ChatCursorDirection::EndingBefore => concat!(
                        select_chat!(),
                        r#" WHERE "userId" = $1 AND ("createdAt", "id") < ($2, $3) ORDER BY "createdAt" DESC, "id" DESC LIMIT $4"#
                    ),
                    ChatCursorDirection::StartingAfter => concat!(
                        select_chat!(),
                        r#" WHERE "userId" = $1 AND ("createdAt", "id") > ($2, $3) ORDER BY "createdAt" ASC, "id" ASC LIMIT $4"#
                    ),
                };
                let mut rows = sqlx::query(sql)
                    .bind(user.0)
                    .bind(at)
                    .bind(cursor.0)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db(S))?;
                direction.to_newest_first(&mut rows);
                rows
            }
        };
        rows.iter().map(chat).collect::<sqlx::Result<_>>().map_err(db(S))
    }

    async fn update_chat(&self, c: &Chat) -> Result<()> {
        let done =
            sqlx::query(r#"UPDATE "Chat" SET "title" = $2, "visibility" = $3, "updatedAt" = $4 WHERE "id" = $1"#)
                .bind(c.id.0)
                .bind(&c.title)
                .bind(c.visibility.as_str())
                .bind(c.updated_at)
                .execute(&self.pool)
                .await
                .map_err(db(S))?;
        if done.rows_affected() == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn set_title_if(&self, id: ChatId, expected: &str, title: &str, at: Timestamp) -> Result<bool> {
        let done = set_title(id, expected, title, at).execute(&self.pool).await.map_err(db(S))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_chat(&self, id: ChatId) -> Result<()> {
        let done =
            sqlx::query(r#"DELETE FROM "Chat" WHERE "id" = $1"#).bind(id.0).execute(&self.pool).await.map_err(db(S))?;
        if done.rows_affected() == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn delete_chats_of(&self, user: UserId) -> Result<u64> {
        let done = sqlx::query(r#"DELETE FROM "Chat" WHERE "userId" = $1"#)
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(db(S))?;
        Ok(done.rows_affected())
    }

    async fn insert_messages(&self, messages: &[StoredMessage]) -> Result<()> {
        let m = Surface::Message;
        // One statement is atomic by itself: no BEGIN/COMMIT round trips for the usual single
        // message of a chat turn.
        if let [message] = messages {
            return insert_message(message).execute(&self.pool).await.map(drop).map_err(db(m));
        }
        let mut tx = self.pool.begin().await.map_err(db(m))?;
        for message in messages {
            insert_message(message).execute(&mut *tx).await.map_err(db(m))?;
        }
        tx.commit().await.map_err(db(m))
    }

    async fn messages(&self, chat: ChatId) -> Result<Vec<StoredMessage>> {
        let rows = select_messages(chat).fetch_all(&self.pool).await.map_err(db(Surface::Message))?;
        rows.iter().map(message).collect::<sqlx::Result<_>>().map_err(db(Surface::Message))
    }

    async fn chat_with_messages(&self, id: ChatId) -> Result<Option<(Chat, Vec<StoredMessage>)>> {
        let rows = sqlx::query(CHAT_WITH_MESSAGES).bind(id.0).fetch_all(&self.pool).await.map_err(db(S))?;
        let Some(first) = rows.first() else { return Ok(None) };
        let read = || -> sqlx::Result<_> {
            let mut messages = Vec::with_capacity(rows.len());
            for row in &rows {
                if row.try_get::<Option<uuid::Uuid>, _>(6)?.is_some() {
                    messages.push(message_at(row, 6)?);
                }
            }
            Ok((chat(first)?, messages))
        };
        read().map(Some).map_err(db(Surface::Message))
    }

    async fn message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        let row = sqlx::query(concat!(select_message!(), r#" WHERE "id" = $1"#))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db(Surface::Message))?;
        row.as_ref().map(message).transpose().map_err(db(Surface::Message))
    }

    async fn delete_messages_from(&self, chat: ChatId, from: Timestamp) -> Result<u64> {
        let done = delete_messages_from(chat, from).execute(&self.pool).await.map_err(db(Surface::Message))?;
        Ok(done.rows_affected())
    }

    async fn take_generation_quota(&self, start: &GenerationStart) -> Result<QuotaUse> {
        let mut tx = self.pool.begin().await.map_err(db(S))?;
        let quota = generation::take_quota(&mut tx, start).await?;
        tx.commit().await.map_err(db(S))?;
        Ok(quota)
    }

    async fn begin_generation(&self, begin: &GenerationBegin) -> Result<GenerationBegun> {
        generation::begin(self, begin).await
    }

    async fn finish_generation(&self, answer: Option<&StoredMessage>, title: Option<&TitleUpdate>) -> Result<bool> {
        generation::finish(self, answer, title).await
    }

    async fn set_vote(&self, v: &Vote) -> Result<()> {
        let done = sqlx::query(
            r#"INSERT INTO "Vote_v2" ("chatId", "messageId", "isUpvoted")
               SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "Message_v2" WHERE "id" = $2 AND "chatId" = $1)
               ON CONFLICT ("chatId", "messageId") DO UPDATE SET "isUpvoted" = excluded."isUpvoted""#,
        )
        .bind(v.chat_id.0)
        .bind(v.message_id.0)
        .bind(v.is_upvoted)
        .execute(&self.pool)
        .await
        .map_err(db(Surface::Vote))?;
        if done.rows_affected() == 0 { Err(Error::not_found(Surface::Message)) } else { Ok(()) }
    }

    async fn votes(&self, chat: ChatId) -> Result<Vec<Vote>> {
        let rows = sqlx::query(
            r#"SELECT "chatId", "messageId", "isUpvoted" FROM "Vote_v2" WHERE "chatId" = $1 ORDER BY "messageId""#,
        )
        .bind(chat.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db(Surface::Vote))?;
        rows.iter()
            .map(|r| {
                Ok(Vote {
                    chat_id: ChatId(r.try_get(0)?),
                    message_id: MessageId(r.try_get(1)?),
                    is_upvoted: r.try_get(2)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(db(Surface::Vote))
    }

    async fn insert_stream(&self, s: &StreamRecord) -> Result<()> {
        insert_stream(s).execute(&self.pool).await.map_err(db(Surface::Stream))?;
        Ok(())
    }

    async fn streams(&self, chat: ChatId) -> Result<Vec<StreamRecord>> {
        let rows = sqlx::query(
            r#"SELECT "id", "chatId", "createdAt" FROM "Stream" WHERE "chatId" = $1 ORDER BY "createdAt", "id""#,
        )
        .bind(chat.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db(Surface::Stream))?;
        rows.iter()
            .map(|r| {
                Ok(StreamRecord {
                    id: StreamId(r.try_get(0)?),
                    chat_id: ChatId(r.try_get(1)?),
                    created_at: r.try_get(2)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(db(Surface::Stream))
    }
}

/// A statement ready to run on the pool or inside a transaction: the port methods run them
/// alone, a generation's start and end run several in one transaction.
type Query<'a> = sqlx::query::Query<'a, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn insert_chat(c: &Chat) -> Query<'_> {
    sqlx::query(
        r#"INSERT INTO "Chat" ("id", "userId", "title", "visibility", "createdAt", "updatedAt") VALUES ($1, $2, $3, $4, $5, $6)"#,
    )
    .bind(c.id.0)
    .bind(c.user_id.0)
    .bind(&c.title)
    .bind(c.visibility.as_str())
    .bind(c.created_at)
    .bind(c.updated_at)
}

fn set_title<'a>(id: ChatId, expected: &'a str, title: &'a str, at: Timestamp) -> Query<'a> {
    sqlx::query(r#"UPDATE "Chat" SET "title" = $3, "updatedAt" = $4 WHERE "id" = $1 AND "title" = $2"#)
        .bind(id.0)
        .bind(expected)
        .bind(title)
        .bind(at)
}

fn select_messages(chat: ChatId) -> Query<'static> {
    sqlx::query(concat!(select_message!(), r#" WHERE "chatId" = $1 ORDER BY "createdAt", "id""#)).bind(chat.0)
}

fn delete_messages_from(chat: ChatId, from: Timestamp) -> Query<'static> {
    sqlx::query(r#"DELETE FROM "Message_v2" WHERE "chatId" = $1 AND "createdAt" >= $2"#).bind(chat.0).bind(from)
}

fn insert_stream(s: &StreamRecord) -> Query<'static> {
    sqlx::query(r#"INSERT INTO "Stream" ("id", "chatId", "createdAt") VALUES ($1, $2, $3)"#)
        .bind(s.id.0)
        .bind(s.chat_id.0)
        .bind(s.created_at)
}

fn insert_message(message: &StoredMessage) -> Query<'_> {
    bind_message(sqlx::query(insert_message_sql!()), message)
}

/// Binds a message's columns as the next six parameters, in `insert_message_sql!`'s order.
fn bind_message<'a>(query: Query<'a>, message: &'a StoredMessage) -> Query<'a> {
    query
        .bind(message.id.0)
        .bind(message.chat_id.0)
        .bind(message.role.as_str())
        .bind(Json(&message.parts))
        .bind(Json(&message.attachments))
        .bind(message.created_at)
}
