//! The contract of moving whole tables ([`crate::ports::DatabaseTransfer`]). The database may
//! hold other cases' rows: each case looks at its own and at the order of all.

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;

use crate::ids::*;
use crate::model::*;
use crate::ports::{Database, GenerationRecord, GenerationStart, Record, RowKey, Table};
use crate::time::now;

use super::{chat_at, document_at, message_at, suggestion_for, user_at};

/// One row of every table, related as the application relates them, in [`Table::ALL`] order.
pub fn one_of_everything() -> Vec<Record> {
    let t = now() - Duration::days(3);
    let mut user = user_at(t);
    user.sessions_valid_from = Some(t + Duration::seconds(5));
    let chat = Chat { visibility: Visibility::Public, ..chat_at(user.id, t + Duration::seconds(1)) };
    let mut question = message_at(chat.id, Role::User, "héllo \"world\" 🌍", t + Duration::seconds(2));
    question.attachments = vec![json!({"url": "/api/files/x", "name": "a.png", "contentType": "image/png"})];
    let answer = StoredMessage {
        parts: vec![
            MessagePart::text("first"),
            MessagePart::from_value(json!({"type": "reasoning", "text": "why", "n": 1.5})).unwrap(),
        ],
        ..message_at(chat.id, Role::Assistant, "", t + Duration::seconds(3))
    };
    let vote = Vote { chat_id: chat.id, message_id: answer.id, is_upvoted: false };
    let stream = StreamRecord { id: StreamId::new(), chat_id: chat.id, created_at: t + Duration::seconds(3) };
    let document_id = DocumentId::new();
    let first = document_at(document_id, user.id, t + Duration::seconds(4), "v1");
    let second = Document {
        content: None,
        kind: DocumentKind::Code,
        ..document_at(document_id, user.id, t + Duration::seconds(5), "")
    };
    let suggestion = Suggestion { description: None, is_resolved: true, ..suggestion_for(&first) };
    let file = FileMeta {
        id: FileId::new(),
        user_id: user.id,
        name: "a.png".into(),
        content_type: "image/png".into(),
        size: 12_345,
        storage_key: format!("files/{}/{}", user.id, FileId::new()),
        chat_id: Some(chat.id),
        created_at: t + Duration::seconds(6),
    };
    let start = GenerationRecord { id: StreamId::new(), user_id: user.id, created_at: t + Duration::seconds(2) };
    vec![
        Record::User(user),
        Record::Chat(chat),
        Record::Message(question),
        Record::Message(answer),
        Record::Vote(vote),
        Record::Stream(stream),
        Record::Document(first),
        Record::Document(second),
        Record::Suggestion(suggestion),
        Record::File(file),
        Record::GenerationStart(start),
    ]
}

async fn import_all(db: &dyn Database, records: &[Record]) {
    for table in Table::ALL {
        let rows: Vec<Record> = records.iter().filter(|r| r.table() == table).cloned().collect();
        let written = db.import_rows(table, &rows).await.unwrap();
        assert_eq!(written, rows.len() as u64, "{table}: every new row is written");
    }
}

/// Every row of `table`, a page of `page` at a time.
async fn export_all(db: &dyn Database, table: Table, page: usize) -> Vec<Record> {
    let mut all: Vec<Record> = Vec::new();
    loop {
        let after = all.last().map(Record::key);
        let rows = db.export_rows(table, after.as_ref(), None, page).await.unwrap();
        assert!(rows.len() <= page, "{table}: a page holds at most the limit");
        let done = rows.len() < page;
        all.extend(rows);
        if done {
            return all;
        }
    }
}

/// Imported rows of every table read back through the application's ports as they were (ids,
/// timestamps, password hash), and an imported generation start counts against the quota.
pub async fn imported_rows_read_back_whole_through_every_port(db: Arc<dyn Database>) {
    let records = one_of_everything();
    import_all(db.as_ref(), &records).await;
    let [
        Record::User(user),
        Record::Chat(chat),
        Record::Message(question),
        Record::Message(answer),
        Record::Vote(vote),
        Record::Stream(stream),
        Record::Document(first),
        Record::Document(second),
        Record::Suggestion(suggestion),
        Record::File(file),
        Record::GenerationStart(start),
    ] = records.as_slice()
    else {
        unreachable!()
    };
    // Through the ports the application uses: ids, timestamps and secrets as they were.
    assert_eq!(db.user_by_id(user.id).await.unwrap().as_ref(), Some(user), "the password hash too");
    assert_eq!(db.chat(chat.id).await.unwrap().as_ref(), Some(chat));
    assert_eq!(db.messages(chat.id).await.unwrap(), vec![question.clone(), answer.clone()]);
    assert_eq!(db.votes(chat.id).await.unwrap(), vec![vote.clone()]);
    assert_eq!(db.streams(chat.id).await.unwrap(), vec![stream.clone()]);
    assert_eq!(db.document_versions(first.id).await.unwrap(), vec![first.clone(), second.clone()]);
    assert_eq!(db.suggestions(first.id).await.unwrap(), vec![suggestion.clone()]);
    assert_eq!(db.file(file.id).await.unwrap().as_ref(), Some(file));
    // The quota counts the imported start.
    let quota = GenerationStart {
        id: StreamId::new(),
        user: user.id,
        at: now(),
        since: start.created_at - Duration::seconds(1),
        limit: 1,
    };
    assert!(!db.take_generation_quota(&quota).await.unwrap().allowed, "the imported start counts");
    // A message's owner is its chat's: deleting the user leaves nothing of it.
    db.delete_user(user.id).await.unwrap();
    assert!(db.messages(chat.id).await.unwrap().is_empty());
}

/// Exports read every row of every table whole, each once, in ascending key order, at any page
/// size, and `count_rows` agrees.
pub async fn export_reads_every_row_whole_in_key_order(db: Arc<dyn Database>) {
    let records = one_of_everything();
    import_all(db.as_ref(), &records).await;
    let again = one_of_everything();
    import_all(db.as_ref(), &again).await;
    for table in Table::ALL {
        for page in [1, 2, 1000] {
            let all = export_all(db.as_ref(), table, page).await;
            let keys: Vec<RowKey> = all.iter().map(Record::key).collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "{table}: ascending keys, each once (page {page})");
            for ours in records.iter().chain(&again).filter(|r| r.table() == table) {
                let found = all.iter().find(|r| r.key() == ours.key());
                assert_eq!(found, Some(ours), "{table}: the row whole (page {page})");
            }
            assert_eq!(db.count_rows(table).await.unwrap(), all.len() as u64, "{table}: counted");
        }
    }
}

/// `export_rows` reads keys after `after` and up to `through`, for one-part and two-part keys
/// alike.
pub async fn export_ranges_are_bounded_at_both_ends(db: Arc<dyn Database>) {
    for _ in 0..3 {
        import_all(db.as_ref(), &one_of_everything()).await;
    }
    let all = export_all(db.as_ref(), Table::Users, 100).await;
    assert!(all.len() >= 3);
    let (first, second, third) = (all[0].key(), all[1].key(), all[2].key());
    let range = db.export_rows(Table::Users, Some(&first), Some(&third), 100).await.unwrap();
    assert_eq!(range.iter().map(Record::key).collect::<Vec<_>>(), vec![second, third], "after, through");
    let up_to = db.export_rows(Table::Users, None, Some(&first), 100).await.unwrap();
    assert_eq!(up_to.iter().map(Record::key).collect::<Vec<_>>(), vec![first]);
    // Keys of two parts bound the same way.
    let versions = export_all(db.as_ref(), Table::Documents, 100).await;
    let (a, b) = (versions[0].key(), versions[1].key());
    let between = db.export_rows(Table::Documents, Some(&a), Some(&b), 100).await.unwrap();
    assert_eq!(between.iter().map(Record::key).collect::<Vec<_>>(), vec![b]);
}

/// An import skips rows whose key exists or whose unique value is taken, leaving the stored rows
/// unchanged, and counts only what it wrote.
pub async fn imports_never_overwrite_and_skip_what_exists(db: Arc<dyn Database>) {
    let records = one_of_everything();
    import_all(db.as_ref(), &records).await;
    for table in Table::ALL {
        let rows: Vec<Record> = records.iter().filter(|r| r.table() == table).cloned().collect();
        assert_eq!(db.import_rows(table, &rows).await.unwrap(), 0, "{table}: a second import writes nothing");
    }
    let Record::User(user) = &records[0] else { unreachable!() };
    // The same key with other values: skipped, the stored row unchanged.
    let changed = User { email: "changed@example.com".into(), password_hash: None, ..user.clone() };
    assert_eq!(db.import_rows(Table::Users, &[Record::User(changed)]).await.unwrap(), 0);
    assert_eq!(db.user_by_id(user.id).await.unwrap().as_ref(), Some(user));
    // Another key with a taken unique value (the email): skipped too.
    let twin = User { id: UserId::new(), ..user.clone() };
    assert_eq!(db.import_rows(Table::Users, &[Record::User(twin.clone())]).await.unwrap(), 0);
    assert_eq!(db.user_by_id(twin.id).await.unwrap(), None);
    // Empty imports are fine.
    assert_eq!(db.import_rows(Table::Chats, &[]).await.unwrap(), 0);
}

/// An import with one row that cannot be written writes none of them; a row of another table is a
/// `BadRequest`.
pub async fn an_import_is_all_or_nothing(db: Arc<dyn Database>) {
    let user = user_at(now());
    db.import_rows(Table::Users, &[Record::User(user.clone())]).await.unwrap();
    let chat = chat_at(user.id, now());
    db.import_rows(Table::Chats, &[Record::Chat(chat.clone())]).await.unwrap();
    // Enough rows to span several statements on a backend that splits them, the last one
    // pointing at a chat that does not exist.
    let mut messages: Vec<Record> =
        (0..40).map(|i| Record::Message(message_at(chat.id, Role::User, &format!("m{i}"), now()))).collect();
    messages.push(Record::Message(message_at(ChatId::new(), Role::User, "orphan", now())));
    let err = db.import_rows(Table::Messages, &messages).await.unwrap_err();
    assert!(matches!(err, crate::Error::NotFound { .. }), "a missing chat: {err}");
    assert!(db.messages(chat.id).await.unwrap().is_empty(), "nothing of a failed import is written");
    // A row of another table is refused before anything is written.
    let err = db.import_rows(Table::Chats, &[Record::User(user_at(now()))]).await.unwrap_err();
    assert!(matches!(err, crate::Error::BadRequest { .. }), "{err}");
}

/// `overwrite_rows` replaces rows (writing new keys too) and is a `Conflict`, all or none, on a
/// taken unique value; `delete_rows` takes what the ports' deletes take and refuses keys of another
/// shape.
pub async fn overwrites_replace_rows_and_deletes_take_what_goes_with_them(db: Arc<dyn Database>) {
    let records = one_of_everything();
    import_all(db.as_ref(), &records).await;
    let [
        Record::User(user),
        Record::Chat(chat),
        Record::Message(question),
        Record::Message(answer),
        Record::Vote(vote),
        Record::Stream(_),
        Record::Document(first),
        Record::Document(second),
        Record::Suggestion(_),
        Record::File(file),
        Record::GenerationStart(_),
    ] = records.as_slice()
    else {
        unreachable!()
    };
    // A changed row replaces the stored one, and what refers to it stays.
    let renamed = User {
        email: format!("{}@renamed.example", UserId::new()),
        password_hash: Some("$argon2id$other".into()),
        ..user.clone()
    };
    assert_eq!(db.overwrite_rows(Table::Users, &[Record::User(renamed.clone())]).await.unwrap(), 1);
    assert_eq!(db.user_by_id(user.id).await.unwrap(), Some(renamed.clone()));
    assert_eq!(db.messages(chat.id).await.unwrap().len(), 2, "the user's chats are untouched");
    let edited = StoredMessage { parts: vec![MessagePart::text("edited")], ..question.clone() };
    let flipped = Vote { is_upvoted: true, ..vote.clone() };
    let rewritten = Document { title: "rewritten".into(), ..first.clone() };
    db.overwrite_rows(Table::Messages, &[Record::Message(edited.clone())]).await.unwrap();
    db.overwrite_rows(Table::Votes, &[Record::Vote(flipped.clone())]).await.unwrap();
    db.overwrite_rows(Table::Documents, &[Record::Document(rewritten.clone())]).await.unwrap();
    assert_eq!(db.messages(chat.id).await.unwrap(), vec![edited, answer.clone()]);
    assert_eq!(db.votes(chat.id).await.unwrap(), vec![flipped]);
    assert_eq!(db.document_versions(first.id).await.unwrap(), vec![rewritten, second.clone()]);
    assert_eq!(db.suggestions(first.id).await.unwrap().len(), 1, "a version's suggestions stay");
    // A key nothing holds is written like an import's row.
    let later = chat_at(user.id, now());
    assert_eq!(db.overwrite_rows(Table::Chats, &[Record::Chat(later.clone())]).await.unwrap(), 1);
    assert_eq!(db.chat(later.id).await.unwrap(), Some(later.clone()));
    // A unique value another key holds is a conflict, and nothing of the batch is written.
    let twin = User { id: UserId::new(), email: renamed.email.clone(), ..user_at(now()) };
    let other = user_at(now());
    let err = db.overwrite_rows(Table::Users, &[Record::User(other.clone()), Record::User(twin)]).await.unwrap_err();
    assert!(matches!(err, crate::Error::Conflict { .. }), "a taken email: {err}");
    assert_eq!(db.user_by_id(other.id).await.unwrap(), None, "all or none");

    // Deletes take what the ports' own deletes take.
    assert_eq!(db.delete_rows(Table::Documents, &[Record::Document(first.clone()).key()]).await.unwrap(), 1);
    assert_eq!(db.document_versions(first.id).await.unwrap(), vec![second.clone()]);
    assert!(db.suggestions(first.id).await.unwrap().is_empty(), "the version's suggestions went with it");
    let gone = [Record::Chat(chat.clone()).key(), RowKey::Id(uuid::Uuid::new_v4())];
    assert_eq!(db.delete_rows(Table::Chats, &gone).await.unwrap(), 1, "a key holding nothing is fine");
    assert!(db.chat(chat.id).await.unwrap().is_none());
    assert!(db.messages(chat.id).await.unwrap().is_empty() && db.votes(chat.id).await.unwrap().is_empty());
    assert_eq!(db.file(file.id).await.unwrap().and_then(|f| f.chat_id), None, "files are detached, not deleted");
    assert_eq!(db.delete_rows(Table::Votes, &[]).await.unwrap(), 0);
    let err = db.delete_rows(Table::Votes, &[RowKey::Id(uuid::Uuid::new_v4())]).await.unwrap_err();
    assert!(matches!(err, crate::Error::BadRequest { .. }), "a key of another shape: {err}");
    assert_eq!(db.chat(later.id).await.unwrap(), Some(later), "untouched");
}

/// After opening, every known migration is applied, and `store_id` is a stable random identity.
pub async fn the_schema_is_current_and_the_store_knows_itself(db: Arc<dyn Database>) {
    let version = db.schema_version().await.unwrap();
    assert_eq!(version.applied, version.known, "migrations are applied at open");
    assert!(version.known >= 6);
    let id = db.store_id().await.unwrap();
    assert!(id.len() >= 16, "a random identity: {id:?}");
    assert_eq!(db.store_id().await.unwrap(), id, "stable");
}
