//! The contract of a generation's reads and writes: [`ChatStore::chat_and_message`],
//! [`ChatStore::begin_generation`], [`ChatStore::finish_generation`].
//!
//! [`ChatStore::chat_and_message`]: crate::ports::ChatStore::chat_and_message
//! [`ChatStore::begin_generation`]: crate::ports::ChatStore::begin_generation
//! [`ChatStore::finish_generation`]: crate::ports::ChatStore::finish_generation

use std::sync::Arc;

use chrono::Duration;

use super::{chat_at, message_at, new_chat, new_user};
use crate::Error;
use crate::ids::*;
use crate::model::*;
use crate::ports::{Database, GenerationBegin, GenerationStart, TitleUpdate};
use crate::time::{Timestamp, now};

fn begin(user: UserId, message: StoredMessage, limit: u64) -> GenerationBegin {
    let (at, stream) = (message.created_at, StreamId::new());
    GenerationBegin {
        quota: GenerationStart { id: stream, user, at, since: at - Duration::hours(24), limit },
        new_chat: None,
        delete_from: None,
        stream: StreamRecord { id: stream, chat_id: message.chat_id, created_at: at },
        message,
    }
}

fn ids(messages: &[StoredMessage]) -> Vec<MessageId> {
    messages.iter().map(|m| m.id).collect()
}

/// `chat_and_message` finds the chat and the message, even a message of another chat, and neither
/// when both are missing.
pub async fn a_send_reads_its_chat_and_message_together(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let other = new_chat(&*db, user.id).await;
    let elsewhere = message_at(other.id, Role::User, "elsewhere", now());
    db.insert_messages(std::slice::from_ref(&elsewhere)).await.unwrap();
    let (found_chat, found_message) = db.chat_and_message(chat.id, elsewhere.id).await.unwrap();
    assert_eq!((found_chat, found_message), (Some(chat), Some(elsewhere)), "a message of another chat is found");
    assert_eq!(db.chat_and_message(ChatId::new(), MessageId::new()).await.unwrap(), (None, None));
}

/// `begin_generation` creates the chat and writes the message and stream record while the quota
/// allows, writes nothing when it refuses, takes no quota on a chat id conflict, and is `NotFound`
/// for a missing user.
pub async fn a_generation_start_writes_everything_or_nothing(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let t = now();
    let chat = chat_at(user.id, t);
    let first = message_at(chat.id, Role::User, "first", t);
    let mut start = begin(user.id, first.clone(), 2);
    start.new_chat = Some(chat.clone());
    let begun = db.begin_generation(&start).await.unwrap();
    assert!(begun.quota.allowed && begun.quota.used == 1);
    assert_eq!(ids(&begun.history), [first.id]);
    assert_eq!(db.chat(chat.id).await.unwrap(), Some(chat.clone()));
    assert_eq!(db.streams(chat.id).await.unwrap(), [start.stream.clone()]);

    let second = message_at(chat.id, Role::User, "second", t + Duration::seconds(1));
    let begun = db.begin_generation(&begin(user.id, second.clone(), 2)).await.unwrap();
    assert!(begun.quota.allowed);
    assert_eq!(ids(&begun.history), [first.id, second.id]);

    // Over the quota: refused, and nothing written.
    let third = message_at(chat.id, Role::User, "third", t + Duration::seconds(2));
    let refused = begin(user.id, third.clone(), 2);
    let begun = db.begin_generation(&refused).await.unwrap();
    assert_eq!((begun.quota.allowed, begun.quota.used, begun.history.len()), (false, 2, 0));
    assert_eq!(begun.quota.oldest, Some(t));
    assert_eq!(db.message(third.id).await.unwrap(), None);
    assert_eq!(db.streams(chat.id).await.unwrap().len(), 2);

    // A new chat whose id is taken is a conflict that takes no quota.
    let other = new_user(&*db).await;
    let taken = new_chat(&*db, other.id).await;
    let mut clash = begin(other.id, message_at(taken.id, Role::User, "clash", t), 1);
    clash.new_chat = Some(chat_at(other.id, t));
    clash.new_chat.as_mut().unwrap().id = taken.id;
    assert!(matches!(db.begin_generation(&clash).await, Err(Error::Conflict { .. })));
    assert_eq!(db.messages(taken.id).await.unwrap(), []);
    assert_eq!(db.streams(taken.id).await.unwrap(), []);
    let fresh = db.begin_generation(&begin(other.id, message_at(taken.id, Role::User, "ok", t), 1)).await.unwrap();
    assert!(fresh.quota.allowed, "the conflict took no quota");

    // A user who is gone has no quota to take.
    let gone = begin(UserId::new(), message_at(chat.id, Role::User, "ghost", t), 5);
    assert!(matches!(db.begin_generation(&gone).await, Err(Error::NotFound { .. })));
}

/// `begin_generation` with `delete_from` replaces the message at the cut and everything after it
/// (their votes too) with the new message.
pub async fn a_generation_start_can_regenerate_from_a_message(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let t = now();
    let at = |s: i64| -> Timestamp { t + Duration::seconds(s) };
    let kept = [message_at(chat.id, Role::User, "one", at(0)), message_at(chat.id, Role::Assistant, "two", at(1))];
    let replaced = message_at(chat.id, Role::User, "three", at(2));
    let answer = message_at(chat.id, Role::Assistant, "four", at(3));
    let all = [kept[0].clone(), kept[1].clone(), replaced.clone(), answer.clone()];
    db.insert_messages(&all).await.unwrap();
    db.set_vote(&Vote { chat_id: chat.id, message_id: answer.id, is_upvoted: true }).await.unwrap();

    let again =
        StoredMessage { parts: vec![MessagePart::text("three, edited")], created_at: at(4), ..replaced.clone() };
    let mut start = begin(user.id, again.clone(), 10);
    start.delete_from = Some(replaced.created_at);
    let begun = db.begin_generation(&start).await.unwrap();
    assert_eq!(ids(&begun.history), [kept[0].id, kept[1].id, again.id]);
    assert_eq!(begun.history[2].parts, again.parts);
    assert_eq!(db.votes(chat.id).await.unwrap(), [], "the deleted answer's vote went with it");
}

/// `finish_generation` stores the answer and sets the title only over the expected one, in one
/// step: an answer that cannot be stored leaves the title alone.
pub async fn a_generation_finish_stores_answer_and_title_together(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let t = now() + Duration::seconds(5);
    let answer = message_at(chat.id, Role::Assistant, "answer", t);
    let title = TitleUpdate { chat: chat.id, expected: chat.title.clone(), title: "Trip to Lisbon".into(), at: t };
    assert!(db.finish_generation(Some(&answer), Some(&title)).await.unwrap());
    assert_eq!(db.messages(chat.id).await.unwrap(), std::slice::from_ref(&answer));
    let stored = db.chat(chat.id).await.unwrap().unwrap();
    assert_eq!((stored.title.as_str(), stored.updated_at), ("Trip to Lisbon", t));

    // Only over the expected title; the answer is stored either way.
    let later = message_at(chat.id, Role::Assistant, "later", t + Duration::seconds(1));
    let stale = TitleUpdate { title: "Another title".into(), ..title.clone() };
    assert!(!db.finish_generation(Some(&later), Some(&stale)).await.unwrap());
    assert_eq!(db.chat(chat.id).await.unwrap().unwrap().title, "Trip to Lisbon");
    assert_eq!(db.messages(chat.id).await.unwrap().len(), 2);

    // One atomic step: an answer that cannot be stored leaves the title alone too.
    let retitle = TitleUpdate { expected: "Trip to Lisbon".into(), title: "Renamed".into(), ..title };
    assert!(matches!(db.finish_generation(Some(&answer), Some(&retitle)).await, Err(Error::Conflict { .. })));
    assert_eq!(db.chat(chat.id).await.unwrap().unwrap().title, "Trip to Lisbon");
    assert!(!db.finish_generation(None, None).await.unwrap());
    assert!(db.finish_generation(None, Some(&retitle)).await.unwrap());
}
