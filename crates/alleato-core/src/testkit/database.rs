//! The database contract (see the traits in [`crate::ports`]).

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;

use crate::Error;
use crate::ids::*;
use crate::model::*;
pub use crate::ports::Database;
use crate::ports::{GenerationStart, QuotaUse};
use crate::time::{Timestamp, now};

mod documents;
mod generation;
mod transfer;
pub use documents::*;
pub use generation::*;
pub use transfer::*;
// The user cases run in the users suite too, over a `UserStore` alone.
pub use super::users::{
    a_deleted_user_reads_as_absent, emails_are_unique, logouts_are_recorded_for_every_instance_to_read,
    updating_a_missing_user_is_not_found, users_round_trip,
};
use super::users::{new_user, user_at};

fn chat_at(user: UserId, created_at: Timestamp) -> Chat {
    Chat {
        id: ChatId::new(),
        user_id: user,
        title: "A chat".into(),
        visibility: Visibility::Private,
        created_at,
        updated_at: created_at,
    }
}

async fn new_chat(db: &dyn Database, user: UserId) -> Chat {
    let chat = chat_at(user, now());
    db.insert_chat(&chat).await.unwrap();
    chat
}

fn message_at(chat: ChatId, role: Role, text: &str, created_at: Timestamp) -> StoredMessage {
    StoredMessage {
        id: MessageId::new(),
        chat_id: chat,
        role,
        parts: vec![MessagePart::text(text)],
        attachments: vec![],
        created_at,
    }
}

fn document_at(id: DocumentId, user: UserId, created_at: Timestamp, content: &str) -> Document {
    Document {
        id,
        created_at,
        title: "Doc".into(),
        kind: DocumentKind::Text,
        content: Some(content.into()),
        user_id: user,
    }
}

fn suggestion_for(doc: &Document) -> Suggestion {
    Suggestion {
        id: SuggestionId::new(),
        document_id: doc.id,
        document_created_at: doc.created_at,
        original_text: "teh".into(),
        suggested_text: "the".into(),
        description: Some("typo".into()),
        is_resolved: false,
        user_id: doc.user_id,
        created_at: now(),
    }
}

fn file_for(user: UserId, chat: Option<ChatId>) -> FileMeta {
    let id = FileId::new();
    FileMeta {
        id,
        user_id: user,
        name: "a.png".into(),
        content_type: "image/png".into(),
        size: 42,
        storage_key: format!("files/{user}/{id}"),
        chat_id: chat,
        created_at: now(),
    }
}

/// Deleting a user deletes its chats, messages, votes, streams, documents, suggestions and file
/// metadata, and nothing of another user's.
pub async fn deleting_a_user_deletes_everything_it_owns(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let bystander = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let kept_chat = new_chat(&*db, bystander.id).await;
    let msg = message_at(chat.id, Role::User, "hi", now());
    db.insert_messages(std::slice::from_ref(&msg)).await.unwrap();
    db.set_vote(&Vote { chat_id: chat.id, message_id: msg.id, is_upvoted: true }).await.unwrap();
    db.insert_stream(&StreamRecord { id: StreamId::new(), chat_id: chat.id, created_at: now() }).await.unwrap();
    let doc = document_at(DocumentId::new(), user.id, now(), "text");
    db.insert_document(&doc).await.unwrap();
    db.insert_suggestions(&[suggestion_for(&doc)]).await.unwrap();
    let file = file_for(user.id, Some(chat.id));
    db.insert_file(&file).await.unwrap();

    db.delete_user(user.id).await.unwrap();

    assert_eq!(db.user_by_id(user.id).await.unwrap(), None);
    assert_eq!(db.chat(chat.id).await.unwrap(), None);
    assert_eq!(db.message(msg.id).await.unwrap(), None);
    assert!(db.votes(chat.id).await.unwrap().is_empty());
    assert!(db.streams(chat.id).await.unwrap().is_empty());
    assert!(db.document_versions(doc.id).await.unwrap().is_empty());
    assert!(db.suggestions(doc.id).await.unwrap().is_empty());
    assert_eq!(db.file(file.id).await.unwrap(), None);
    assert!(db.chat(kept_chat.id).await.unwrap().is_some(), "another user's data is untouched");
}

/// A chat reads back as stored and updated; deleting or updating a missing chat is `NotFound`.
pub async fn chats_round_trip(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    assert_eq!(db.chat(chat.id).await.unwrap(), Some(chat.clone()));
    let mut changed = chat.clone();
    changed.title = "Renamed".into();
    changed.visibility = Visibility::Public;
    changed.updated_at = now();
    db.update_chat(&changed).await.unwrap();
    assert_eq!(db.chat(chat.id).await.unwrap(), Some(changed));
    db.delete_chat(chat.id).await.unwrap();
    assert_eq!(db.chat(chat.id).await.unwrap(), None);
    assert!(matches!(db.delete_chat(chat.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(db.update_chat(&chat).await, Err(Error::NotFound { .. })));
}

/// Inserting a chat with a taken id is a `Conflict`; one whose owner does not exist is `NotFound`.
pub async fn duplicate_chat_ids_conflict(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    assert!(matches!(db.insert_chat(&chat).await, Err(Error::Conflict { .. })));
    let orphan = chat_at(UserId::new(), now());
    assert!(matches!(db.insert_chat(&orphan).await, Err(Error::NotFound { .. })), "owner must exist");
}

/// `list_chats` lists only the user's chats, newest first, and pages both ways from a cursor.
pub async fn chats_list_newest_first_and_page_by_cursor(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let other = new_user(&*db).await;
    let base = now() - Duration::hours(1);
    let mut chats = Vec::new();
    for i in 0..7 {
        let chat = chat_at(user.id, base + Duration::seconds(i));
        db.insert_chat(&chat).await.unwrap();
        chats.push(chat);
    }
    new_chat(&*db, other.id).await;
    chats.reverse(); // newest first
    let ids = |cs: &[Chat]| cs.iter().map(|c| c.id).collect::<Vec<_>>();

    let all = db.list_chats(user.id, &ChatPage { limit: 100, cursor: None }).await.unwrap();
    assert_eq!(ids(&all), ids(&chats), "only the user's chats, newest first");

    let first = db.list_chats(user.id, &ChatPage { limit: 3, cursor: None }).await.unwrap();
    assert_eq!(ids(&first), ids(&chats[..3]));
    let older = db
        .list_chats(user.id, &ChatPage { limit: 3, cursor: Some((ChatCursorDirection::EndingBefore, chats[2].id)) })
        .await
        .unwrap();
    assert_eq!(ids(&older), ids(&chats[3..6]), "ending_before pages to older chats");
    let newer = db
        .list_chats(user.id, &ChatPage { limit: 2, cursor: Some((ChatCursorDirection::StartingAfter, chats[5].id)) })
        .await
        .unwrap();
    assert_eq!(ids(&newer), ids(&chats[3..5]), "starting_after gives the chats just newer, newest first");
}

/// A cursor naming another user's chat, or no chat, is `NotFound`.
pub async fn chat_cursors_must_name_own_chat(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let other = new_user(&*db).await;
    let foreign = new_chat(&*db, other.id).await;
    for cursor in [foreign.id, ChatId::new()] {
        let page = ChatPage { limit: 10, cursor: Some((ChatCursorDirection::EndingBefore, cursor)) };
        // As the original app: an unknown cursor is a chat that is not found.
        assert!(matches!(db.list_chats(user.id, &page).await, Err(Error::NotFound { .. })));
    }
}

/// Messages read back oldest first with their parts and attachments intact, alone or with their
/// chat.
pub async fn messages_keep_parts_and_order(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let t = now();
    let mut rich = message_at(chat.id, Role::Assistant, "answer", t + Duration::milliseconds(1));
    rich.parts = vec![
        MessagePart::from_value(json!({"type": "reasoning", "text": "thinking", "state": "done"})).unwrap(),
        MessagePart::from_value(json!({"type": "text", "text": "answer ✓", "providerMetadata": {"k": [1, 2]}}))
            .unwrap(),
        MessagePart::from_value(json!({"type": "file", "mediaType": "image/png", "url": "https://x/y.png"})).unwrap(),
    ];
    rich.attachments = vec![json!({"legacy": true})];
    let question = message_at(chat.id, Role::User, "question", t);
    db.insert_messages(&[rich.clone(), question.clone()]).await.unwrap();
    assert_eq!(db.messages(chat.id).await.unwrap(), vec![question.clone(), rich.clone()], "oldest first, parts intact");
    assert_eq!(db.message(rich.id).await.unwrap(), Some(rich.clone()));
    let stored = db.chat(chat.id).await.unwrap().unwrap();
    assert_eq!(db.chat_with_messages(chat.id).await.unwrap(), Some((stored, vec![question, rich])), "both at once");
    assert_eq!(db.chat_with_messages(ChatId::new()).await.unwrap(), None);
    let empty = new_chat(&*db, user.id).await;
    assert_eq!(db.chat_with_messages(empty.id).await.unwrap().map(|(_, m)| m.len()), Some(0));
}

/// A batch of messages with one taken id is a `Conflict` and stores none of them.
pub async fn message_batches_are_atomic(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let existing = message_at(chat.id, Role::User, "one", now());
    db.insert_messages(std::slice::from_ref(&existing)).await.unwrap();
    let fresh = message_at(chat.id, Role::Assistant, "two", now());
    let result = db.insert_messages(&[fresh.clone(), existing.clone()]).await;
    assert!(matches!(result, Err(Error::Conflict { .. })), "{result:?}");
    assert_eq!(db.message(fresh.id).await.unwrap(), None, "nothing of a failed batch is stored");
}

/// A message for a chat that does not exist is `NotFound`.
pub async fn messages_need_an_existing_chat(db: Arc<dyn Database>) {
    let msg = message_at(ChatId::new(), Role::User, "lost", now());
    assert!(matches!(db.insert_messages(&[msg]).await, Err(Error::NotFound { .. })));
}

/// `delete_messages_from` removes the message at the cut and every later one, with their votes, and
/// counts them.
pub async fn deleting_messages_from_a_time_removes_their_votes(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let t = now() - Duration::minutes(5);
    let msgs: Vec<_> =
        (0..4).map(|i| message_at(chat.id, Role::User, &format!("m{i}"), t + Duration::seconds(i))).collect();
    db.insert_messages(&msgs).await.unwrap();
    for m in &msgs {
        db.set_vote(&Vote { chat_id: chat.id, message_id: m.id, is_upvoted: false }).await.unwrap();
    }
    let removed = db.delete_messages_from(chat.id, msgs[2].created_at).await.unwrap();
    assert_eq!(removed, 2, "the message at the cut and everything after it");
    let left: Vec<_> = db.messages(chat.id).await.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(left, vec![msgs[0].id, msgs[1].id]);
    let voted: Vec<_> = db.votes(chat.id).await.unwrap().into_iter().map(|v| v.message_id).collect();
    assert_eq!(voted.len(), 2);
    assert!(voted.contains(&msgs[0].id) && voted.contains(&msgs[1].id));
}

/// The generation quota counts each user's starts within the window only, refuses past the limit,
/// gives nothing back when chats are deleted, and is `NotFound` for a missing user.
pub async fn generation_quota_counts_starts_per_user_in_the_window(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let other = new_user(&*db).await;
    let t = now();
    let start = |user: UserId, at: Timestamp| GenerationStart {
        id: StreamId::new(),
        user,
        at,
        since: at - Duration::hours(24),
        limit: 2,
    };
    // One outside the window does not count, and may be forgotten.
    let old = db.take_generation_quota(&start(user.id, t - Duration::hours(30))).await.unwrap();
    assert_eq!(old, QuotaUse { allowed: true, used: 1, oldest: Some(t - Duration::hours(30)) });
    let first = db.take_generation_quota(&start(user.id, t - Duration::hours(1))).await.unwrap();
    assert_eq!(first, QuotaUse { allowed: true, used: 1, oldest: Some(t - Duration::hours(1)) });
    let second = db.take_generation_quota(&start(user.id, t)).await.unwrap();
    assert_eq!(second, QuotaUse { allowed: true, used: 2, oldest: Some(t - Duration::hours(1)) });
    let refused = db.take_generation_quota(&start(user.id, t)).await.unwrap();
    assert_eq!(refused, QuotaUse { allowed: false, used: 2, oldest: Some(t - Duration::hours(1)) });
    // Deleting chats and messages gives nothing back.
    assert_eq!(db.delete_chats_of(user.id).await.unwrap(), 0);
    assert!(!db.take_generation_quota(&start(user.id, t)).await.unwrap().allowed);
    // Another user's quota is their own.
    assert!(db.take_generation_quota(&start(other.id, t)).await.unwrap().allowed);
    // A user who is gone has no quota to take.
    let missing = start(UserId::new(), t);
    assert!(matches!(db.take_generation_quota(&missing).await, Err(Error::NotFound { .. })));
}

/// Concurrent starts get exactly the limit through.
pub async fn generation_quota_holds_under_concurrent_starts(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let t = now();
    let calls: Vec<_> = (0..24)
        .map(|_| {
            let db = db.clone();
            let start =
                GenerationStart { id: StreamId::new(), user: user.id, at: t, since: t - Duration::hours(24), limit: 5 };
            tokio::spawn(async move { db.take_generation_quota(&start).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for call in calls {
        allowed += u32::from(call.await.unwrap().allowed);
    }
    assert_eq!(allowed, 5, "exactly the limit gets through");
}

/// `set_title_if` sets the title and `updated_at` only while the title is the expected one, and
/// answers whether it did.
pub async fn titles_are_set_only_over_the_expected_title(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let later = chat.updated_at + Duration::seconds(5);
    assert!(db.set_title_if(chat.id, &chat.title, "Trip to Lisbon", later).await.unwrap());
    let stored = db.chat(chat.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.title.as_str(), stored.visibility, stored.updated_at),
        ("Trip to Lisbon", chat.visibility, later)
    );
    // Renamed since: the background title does not win.
    assert!(!db.set_title_if(chat.id, &chat.title, "Something else", later).await.unwrap());
    assert_eq!(db.chat(chat.id).await.unwrap().unwrap().title, "Trip to Lisbon");
    assert!(!db.set_title_if(ChatId::new(), "New chat", "Nowhere", later).await.unwrap());
}

/// A second vote replaces the first; a vote on a message of another chat, or on no message, is
/// `NotFound`.
pub async fn votes_upsert_and_stay_in_their_chat(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let other_chat = new_chat(&*db, user.id).await;
    let msg = message_at(chat.id, Role::Assistant, "answer", now());
    db.insert_messages(std::slice::from_ref(&msg)).await.unwrap();
    db.set_vote(&Vote { chat_id: chat.id, message_id: msg.id, is_upvoted: true }).await.unwrap();
    db.set_vote(&Vote { chat_id: chat.id, message_id: msg.id, is_upvoted: false }).await.unwrap();
    assert_eq!(
        db.votes(chat.id).await.unwrap(),
        vec![Vote { chat_id: chat.id, message_id: msg.id, is_upvoted: false }]
    );
    let wrong_chat = db.set_vote(&Vote { chat_id: other_chat.id, message_id: msg.id, is_upvoted: true }).await;
    assert!(matches!(wrong_chat, Err(Error::NotFound { .. })), "{wrong_chat:?}");
    let missing = db.set_vote(&Vote { chat_id: chat.id, message_id: MessageId::new(), is_upvoted: true }).await;
    assert!(matches!(missing, Err(Error::NotFound { .. })));
    assert!(db.votes(other_chat.id).await.unwrap().is_empty());
}

/// Deleting a user's chats deletes their messages, votes and stream records, and counts the chats.
pub async fn deleting_a_chat_deletes_its_messages_votes_and_streams(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let msg = message_at(chat.id, Role::User, "hi", now());
    db.insert_messages(std::slice::from_ref(&msg)).await.unwrap();
    db.set_vote(&Vote { chat_id: chat.id, message_id: msg.id, is_upvoted: true }).await.unwrap();
    db.insert_stream(&StreamRecord { id: StreamId::new(), chat_id: chat.id, created_at: now() }).await.unwrap();
    let second = new_chat(&*db, user.id).await;
    assert_eq!(db.delete_chats_of(user.id).await.unwrap(), 2);
    assert_eq!(db.chat(second.id).await.unwrap(), None);
    assert_eq!(db.message(msg.id).await.unwrap(), None);
    assert!(db.votes(chat.id).await.unwrap().is_empty());
    assert!(db.streams(chat.id).await.unwrap().is_empty());
    assert_eq!(db.delete_chats_of(user.id).await.unwrap(), 0);
}

/// Stream records read back oldest first; a taken id is a `Conflict`, a missing chat `NotFound`.
pub async fn streams_round_trip(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let t = now();
    let a = StreamRecord { id: StreamId::new(), chat_id: chat.id, created_at: t };
    let b = StreamRecord { id: StreamId::new(), chat_id: chat.id, created_at: t + Duration::seconds(1) };
    db.insert_stream(&b).await.unwrap();
    db.insert_stream(&a).await.unwrap();
    assert_eq!(db.streams(chat.id).await.unwrap(), vec![a.clone(), b]);
    assert!(matches!(db.insert_stream(&a).await, Err(Error::Conflict { .. })));
    let orphan = StreamRecord { id: StreamId::new(), chat_id: ChatId::new(), created_at: t };
    assert!(matches!(db.insert_stream(&orphan).await, Err(Error::NotFound { .. })));
}

/// `stats` counts regular users and guests apart, chats, messages, documents once per id, files and
/// their bytes.
pub async fn stats_count_real_rows(db: Arc<dyn Database>) {
    let before = db.stats().await.unwrap();
    let user = new_user(&*db).await;
    let mut guest = user_at(now());
    guest.kind = UserKind::Guest;
    db.insert_user(&guest).await.unwrap();
    let chat = new_chat(&*db, user.id).await;
    db.insert_messages(&[message_at(chat.id, Role::User, "x", now())]).await.unwrap();
    let id = DocumentId::new();
    db.insert_document(&document_at(id, user.id, now(), "a")).await.unwrap();
    db.insert_document(&document_at(id, user.id, now() + Duration::seconds(1), "b")).await.unwrap();
    db.insert_file(&file_for(user.id, None)).await.unwrap();
    let after = db.stats().await.unwrap();
    assert_eq!(after.users, before.users + 1);
    assert_eq!(after.guests, before.guests + 1);
    assert_eq!(after.chats, before.chats + 1);
    assert_eq!(after.messages, before.messages + 1);
    assert_eq!(after.documents, before.documents + 1, "versions of one document count once");
    assert_eq!(after.files, before.files + 1);
    assert_eq!(after.file_bytes, before.file_bytes + 42);
}

/// `ping` succeeds on a working database.
pub async fn ping_answers(db: Arc<dyn Database>) {
    db.ping().await.unwrap();
}
