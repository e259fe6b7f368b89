//! The statements of a generation's start and end, each sent as one batch: on D1 that is one
//! HTTP request for the whole start (quota, chat, message, stream record, history) and one for
//! the end (answer and title).

use alleato_core::model::StoredMessage;
use alleato_core::ports::{GenerationBegin, GenerationBegun, GenerationStart, QuotaUse, TitleUpdate};
use alleato_core::{Error, Result, Surface};

use super::{Only, S, delete_messages_from, insert_chat, insert_message, insert_stream, message, select_messages};
use crate::SqlDatabase;
use crate::sql::{Executor, Outcome, SqlError, Statement, ts};

/// Forgets the user's starts older than the window, then records this one if the user exists
/// and the window has room. One batch with [`quota_window`], so no other start interleaves.
pub(super) fn quota_take(start: &GenerationStart) -> [Statement; 2] {
    let (user, since) = (start.user.to_string(), ts(&start.since));
    [
        Statement::new(r#"DELETE FROM "GenerationStart" WHERE "userId" = ?1 AND "createdAt" < ?2"#)
            .bind(user.as_str())
            .bind(since.as_str()),
        Statement::new(
            r#"INSERT INTO "GenerationStart" ("id", "userId", "createdAt")
               SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM "User" WHERE "id" = ?2)
                 AND (SELECT COUNT(*) FROM "GenerationStart" WHERE "userId" = ?2 AND "createdAt" >= ?4) < ?5"#,
        )
        .bind(start.id.to_string())
        .bind(user)
        .bind(ts(&start.at))
        .bind(since)
        .bind(start.limit),
    ]
}

/// Reads what the quota window holds: whether the user exists, how many starts, the oldest.
pub(super) fn quota_window(start: &GenerationStart) -> Statement {
    Statement::new(
        r#"SELECT EXISTS (SELECT 1 FROM "User" WHERE "id" = ?1), COUNT(*), MIN("createdAt")
           FROM "GenerationStart" WHERE "userId" = ?1 AND "createdAt" >= ?2"#,
    )
    .bind(start.user.to_string())
    .bind(ts(&start.since))
}

/// The quota's answer from the outcomes of [`quota_take`]'s insert and [`quota_window`].
pub(super) fn quota_use(insert: &Outcome, window: Outcome) -> Result<QuotaUse> {
    let allowed = insert.changes > 0;
    let (user_exists, used, oldest) = window
        .rows
        .into_iter()
        .next()
        .map(|mut r| Ok((r.bool(0)?, r.count(1)?, r.timestamp_opt(2)?)))
        .transpose()
        .map_err(|e: SqlError| e.into_port(S))?
        .ok_or_else(|| Error::backend(S, "the quota window read returned no row"))?;
    if !user_exists {
        return Err(Error::not_found(Surface::User));
    }
    Ok(QuotaUse { allowed, used, oldest })
}

pub(super) async fn begin<E: Executor>(db: &SqlDatabase<E>, begin: &GenerationBegin) -> Result<GenerationBegun> {
    let stream = begin.quota.id.to_string();
    let only = Only::IfStarted(&stream);
    let chat = begin.message.chat_id;
    let [forget, take] = quota_take(&begin.quota);
    let mut batch = vec![forget, take];
    if let Some(c) = &begin.new_chat {
        // An existing id fails the primary key, and with it the whole batch, quota included.
        batch.push(insert_chat(c, only));
    }
    if let Some(from) = &begin.delete_from {
        batch.push(delete_messages_from(chat, from, only));
    }
    batch.push(insert_message(&begin.message, only)?);
    batch.push(insert_stream(&begin.stream, only));
    batch.push(quota_window(&begin.quota));
    batch.push(select_messages(chat, only));
    let mut outcomes = db.write_all(S, batch).await?;
    let (Some(history), Some(window)) = (outcomes.pop(), outcomes.pop()) else {
        return Err(Error::backend(S, "a generation's start answered fewer results than it sent"));
    };
    let quota = quota_use(&outcomes[1], window)?;
    let history = history
        .rows
        .into_iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.into_port(Surface::Message))?;
    Ok(GenerationBegun { quota, history })
}

pub(super) async fn finish<E: Executor>(
    db: &SqlDatabase<E>,
    answer: Option<&StoredMessage>,
    title: Option<&TitleUpdate>,
) -> Result<bool> {
    let mut batch = Vec::with_capacity(2);
    if let Some(answer) = answer {
        batch.push(insert_message(answer, Only::Always)?);
    }
    if let Some(t) = title {
        batch.push(super::set_title(t));
    }
    if batch.is_empty() {
        return Ok(false);
    }
    let outcomes = db.write_all(Surface::Message, batch).await?;
    Ok(title.is_some() && outcomes.last().is_some_and(|o| o.changes > 0))
}
