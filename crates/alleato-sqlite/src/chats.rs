use alleato_core::ids::{ChatId, MessageId, UserId};
use alleato_core::model::{Chat, ChatCursorDirection, ChatPage, Role, StoredMessage, StreamRecord, Visibility, Vote};
use alleato_core::ports::{ChatStore, GenerationBegin, GenerationBegun, GenerationStart, QuotaUse, TitleUpdate};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use crate::SqlDatabase;
use crate::sql::{Executor, Row, SqlError, Statement, ts};

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

pub(crate) fn chat(mut row: Row) -> Result<Chat, SqlError> {
    Ok(Chat {
        id: row.parsed(0)?,
        user_id: row.parsed(1)?,
        title: row.text(2)?,
        visibility: row.named(3, Visibility::parse)?,
        created_at: row.timestamp(4)?,
        updated_at: row.timestamp(5)?,
    })
}

pub(crate) fn message(mut row: Row) -> Result<StoredMessage, SqlError> {
    Ok(StoredMessage {
        id: row.parsed(0)?,
        chat_id: row.parsed(1)?,
        role: row.named(2, Role::parse)?,
        parts: row.json(3)?,
        attachments: row.json(4)?,
        created_at: row.timestamp(5)?,
    })
}

pub(crate) fn vote(mut row: Row) -> Result<Vote, SqlError> {
    Ok(Vote { chat_id: row.parsed(0)?, message_id: row.parsed(1)?, is_upvoted: row.bool(2)? })
}

pub(crate) fn stream(mut row: Row) -> Result<StreamRecord, SqlError> {
    Ok(StreamRecord { id: row.parsed(0)?, chat_id: row.parsed(1)?, created_at: row.timestamp(2)? })
}

fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::backend(Surface::Message, e))
}

const S: Surface = Surface::Chat;

mod generation;

/// The condition a write (or a read) runs under: always, or only if a generation's start took
/// the quota (its `GenerationStart` row exists), so a refused start writes nothing in the same
/// batch without an error to roll it back.
#[derive(Clone, Copy)]
enum Only<'a> {
    Always,
    IfStarted(&'a str),
}

impl Only<'_> {
    /// `statement` with its `{only}` placeholder replaced by the condition, whose parameter (if
    /// any) comes after the statement's own.
    fn apply(self, statement: Statement) -> Statement {
        let condition = match self {
            Only::Always => "1".to_owned(),
            Only::IfStarted(_) => {
                format!(r#"EXISTS (SELECT 1 FROM "GenerationStart" WHERE "id" = ?{})"#, statement.params.len() + 1)
            }
        };
        let statement = Statement { sql: statement.sql.replace("{only}", &condition).into(), ..statement };
        match self {
            Only::Always => statement,
            Only::IfStarted(id) => statement.bind(id),
        }
    }
}

fn insert_chat(c: &Chat, only: Only) -> Statement {
    only.apply(
        Statement::new(
            r#"INSERT INTO "Chat" ("id", "userId", "title", "visibility", "createdAt", "updatedAt")
               SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE {only}"#,
        )
        .bind(c.id.to_string())
        .bind(c.user_id.to_string())
        .bind(c.title.as_str())
        .bind(c.visibility.as_str())
        .bind(ts(&c.created_at))
        .bind(ts(&c.updated_at)),
    )
}

fn insert_message(m: &StoredMessage, only: Only) -> Result<Statement> {
    Ok(only.apply(
        Statement::new(
            r#"INSERT INTO "Message_v2" ("id", "chatId", "userId", "role", "parts", "attachments", "createdAt")
               SELECT ?1, ?2, (SELECT "userId" FROM "Chat" WHERE "id" = ?2), ?3, ?4, ?5, ?6 WHERE {only}"#,
        )
        .bind(m.id.to_string())
        .bind(m.chat_id.to_string())
        .bind(m.role.as_str())
        .bind(to_json(&m.parts)?)
        .bind(to_json(&m.attachments)?)
        .bind(ts(&m.created_at)),
    ))
}

fn select_messages(chat: ChatId, only: Only) -> Statement {
    only.apply(
        Statement::new(concat!(select_message!(), r#" WHERE "chatId" = ?1 AND {only} ORDER BY "createdAt", "id""#))
            .bind(chat.to_string()),
    )
}

/// Votes on these messages go with them (ON DELETE CASCADE). Counted by `RETURNING`: D1's
/// `changes` counts the cascaded deletes too.
fn delete_messages_from(chat: ChatId, from: &Timestamp, only: Only) -> Statement {
    only.apply(
        Statement::new(
            r#"DELETE FROM "Message_v2" WHERE "chatId" = ?1 AND "createdAt" >= ?2 AND {only} RETURNING "id""#,
        )
        .bind(chat.to_string())
        .bind(ts(from)),
    )
}

fn insert_stream(s: &StreamRecord, only: Only) -> Statement {
    only.apply(
        Statement::new(r#"INSERT INTO "Stream" ("id", "chatId", "createdAt") SELECT ?1, ?2, ?3 WHERE {only}"#)
            .bind(s.id.to_string())
            .bind(s.chat_id.to_string())
            .bind(ts(&s.created_at)),
    )
}

/// Sets a title only over the expected one (see [`ChatStore::set_title_if`]).
fn set_title(t: &TitleUpdate) -> Statement {
    Statement::new(r#"UPDATE "Chat" SET "title" = ?3, "updatedAt" = ?4 WHERE "id" = ?1 AND "title" = ?2"#)
        .bind(t.chat.to_string())
        .bind(t.expected.as_str())
        .bind(t.title.as_str())
        .bind(ts(&t.at))
}

#[async_trait]
impl<E: Executor> ChatStore for SqlDatabase<E> {
    async fn insert_chat(&self, c: &Chat) -> Result<()> {
        self.write(S, insert_chat(c, Only::Always)).await.map(drop)
    }

    async fn chat(&self, id: ChatId) -> Result<Option<Chat>> {
        self.optional(S, Statement::new(concat!(select_chat!(), r#" WHERE "id" = ?1"#)).bind(id.to_string()), chat)
            .await
    }

    async fn list_chats(&self, user: UserId, page: &ChatPage) -> Result<Vec<Chat>> {
        // A row limit, not a bound `LIMIT`: SQLite recompiles a statement whose LIMIT is bound
        // on every run; the index yields rows in order, so stopping after `limit` is as cheap.
        let user = user.to_string();
        let Some((direction, cursor)) = page.cursor else {
            let newest =
                Statement::new(concat!(select_chat!(), r#" WHERE "userId" = ?1 ORDER BY "createdAt" DESC, "id" DESC"#));
            return self.all(S, newest.bind(user).max_rows(page.limit), chat).await;
        };
        let anchor = Statement::new(r#"SELECT "createdAt", "id" FROM "Chat" WHERE "id" = ?1 AND "userId" = ?2"#)
            .bind(cursor.to_string())
            .bind(user.as_str());
        let anchor = self.optional(S, anchor, |mut r| Ok((r.text(0)?, r.text(1)?))).await?;
        let Some((at, id)) = anchor else { return Err(ChatPage::unknown_cursor()) };
        let sql = match direction {
            // Older than the cursor: the next page down.
            ChatCursorDirection::EndingBefore => concat!(
                select_chat!(),
                r#" WHERE "userId" = ?1 AND ("createdAt", "id") < (?2, ?3) ORDER BY "createdAt" DESC, "id" DESC"#
            ),
            // Newer than the cursor: the page just above it, nearest first.
            ChatCursorDirection::StartingAfter => concat!(
                select_chat!(),
                r#" WHERE "userId" = ?1 AND ("createdAt", "id") > (?2, ?3) ORDER BY "createdAt" ASC, "id" ASC"#
            ),
        };
        let mut chats =
            self.all(S, Statement::new(sql).bind(user).bind(at).bind(id).max_rows(page.limit), chat).await?;
        direction.to_newest_first(&mut chats);
        Ok(chats)
    }

    async fn update_chat(&self, c: &Chat) -> Result<()> {
        let update =
            Statement::new(r#"UPDATE "Chat" SET "title" = ?2, "visibility" = ?3, "updatedAt" = ?4 WHERE "id" = ?1"#)
                .bind(c.id.to_string())
                .bind(c.title.as_str())
                .bind(c.visibility.as_str())
                .bind(ts(&c.updated_at));
        if self.write(S, update).await? == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn set_title_if(&self, id: ChatId, expected: &str, title: &str, at: Timestamp) -> Result<bool> {
        let update = TitleUpdate { chat: id, expected: expected.into(), title: title.into(), at };
        Ok(self.write(S, set_title(&update)).await? > 0)
    }

    async fn delete_chat(&self, id: ChatId) -> Result<()> {
        let delete = Statement::new(r#"DELETE FROM "Chat" WHERE "id" = ?1"#).bind(id.to_string());
        if self.write(S, delete).await? == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn delete_chats_of(&self, user: UserId) -> Result<u64> {
        // Counted by RETURNING, not `changes`: D1 counts the cascaded deletes too.
        let delete = Statement::new(r#"DELETE FROM "Chat" WHERE "userId" = ?1 RETURNING "id""#).bind(user.to_string());
        self.returned(S, delete).await
    }

    async fn insert_messages(&self, messages: &[StoredMessage]) -> Result<()> {
        let inserts = messages.iter().map(|m| insert_message(m, Only::Always)).collect::<Result<Vec<_>>>()?;
        self.write_all(Surface::Message, inserts).await.map(drop)
    }

    async fn messages(&self, chat: ChatId) -> Result<Vec<StoredMessage>> {
        self.all(Surface::Message, select_messages(chat, Only::Always), message).await
    }

    async fn chat_with_messages(&self, id: ChatId) -> Result<Option<(Chat, Vec<StoredMessage>)>> {
        let select_chat =
            Statement::new(concat!(select_chat!(), r#" WHERE "id" = ?1"#)).bind(id.to_string()).max_rows(1);
        let (chat_rows, message_rows) = self.read_two(select_chat, select_messages(id, Only::Always)).await?;
        let Some(row) = chat_rows.rows.into_iter().next() else { return Ok(None) };
        let chat = chat(row).map_err(|e| e.into_port(S))?;
        let messages = message_rows
            .rows
            .into_iter()
            .map(message)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.into_port(Surface::Message))?;
        Ok(Some((chat, messages)))
    }

    async fn message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        let select = Statement::new(concat!(select_message!(), r#" WHERE "id" = ?1"#));
        self.optional(Surface::Message, select.bind(id.to_string()), message).await
    }

    async fn delete_messages_from(&self, chat: ChatId, from: Timestamp) -> Result<u64> {
        self.returned(Surface::Message, delete_messages_from(chat, &from, Only::Always)).await
    }

    async fn take_generation_quota(&self, start: &GenerationStart) -> Result<QuotaUse> {
        let [forget, take] = generation::quota_take(start);
        let mut outcomes = self.write_all(S, vec![forget, take, generation::quota_window(start)]).await?;
        let window = outcomes.pop().ok_or_else(|| Error::backend(S, "the quota batch answered no window"))?;
        generation::quota_use(&outcomes[1], window)
    }

    async fn chat_and_message(&self, id: ChatId, m: MessageId) -> Result<(Option<Chat>, Option<StoredMessage>)> {
        let select_chat =
            Statement::new(concat!(select_chat!(), r#" WHERE "id" = ?1"#)).bind(id.to_string()).max_rows(1);
        let select_message =
            Statement::new(concat!(select_message!(), r#" WHERE "id" = ?1"#)).bind(m.to_string()).max_rows(1);
        let (chat_rows, message_rows) = self.read_two(select_chat, select_message).await?;
        let chat = chat_rows.rows.into_iter().next().map(chat).transpose().map_err(|e| e.into_port(S))?;
        let message =
            message_rows.rows.into_iter().next().map(message).transpose().map_err(|e| e.into_port(Surface::Message))?;
        Ok((chat, message))
    }

    async fn begin_generation(&self, begin: &GenerationBegin) -> Result<GenerationBegun> {
        generation::begin(self, begin).await
    }

    async fn finish_generation(&self, answer: Option<&StoredMessage>, title: Option<&TitleUpdate>) -> Result<bool> {
        generation::finish(self, answer, title).await
    }

    async fn set_vote(&self, v: &Vote) -> Result<()> {
        // Only a message of that very chat can be voted on.
        let upsert = Statement::new(
            r#"INSERT INTO "Vote_v2" ("chatId", "messageId", "isUpvoted")
               SELECT ?1, ?2, ?3 WHERE EXISTS
                 (SELECT 1 FROM "Message_v2" WHERE "id" = ?2 AND "chatId" = ?1)
               ON CONFLICT ("chatId", "messageId") DO UPDATE SET "isUpvoted" = excluded."isUpvoted""#,
        )
        .bind(v.chat_id.to_string())
        .bind(v.message_id.to_string())
        .bind(v.is_upvoted);
        if self.write(Surface::Vote, upsert).await? == 0 { Err(Error::not_found(Surface::Message)) } else { Ok(()) }
    }

    async fn votes(&self, chat: ChatId) -> Result<Vec<Vote>> {
        let select = Statement::new(
            r#"SELECT "chatId", "messageId", "isUpvoted" FROM "Vote_v2" WHERE "chatId" = ?1 ORDER BY "messageId""#,
        );
        self.all(Surface::Vote, select.bind(chat.to_string()), vote).await
    }

    async fn insert_stream(&self, s: &StreamRecord) -> Result<()> {
        self.write(Surface::Stream, insert_stream(s, Only::Always)).await.map(drop)
    }

    async fn streams(&self, chat: ChatId) -> Result<Vec<StreamRecord>> {
        let select = Statement::new(
            r#"SELECT "id", "chatId", "createdAt" FROM "Stream" WHERE "chatId" = ?1 ORDER BY "createdAt", "id""#,
        );
        self.all(Surface::Stream, select.bind(chat.to_string()), stream).await
    }
}
