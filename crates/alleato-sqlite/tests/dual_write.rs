//! Dual-write's database decorator over two SQLite databases: it keeps the database contract,
//! writes reach the secondary as they were, and what the secondary misses is recorded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alleato_core::dual::{DualDatabase, DualWrite, DualWriteSettings, RepairEntry, RepairLog, Scope};
use alleato_core::ids::{ChatId, MessageId, StreamId, UserId};
use alleato_core::model::{Chat, Role, StoredMessage, StreamRecord, User, UserKind, Visibility};
use alleato_core::ports::{
    ChatStore, DatabaseAdmin, DatabaseTransfer, GenerationBegin, GenerationStart, Record, Table, UserStore,
};
use alleato_core::services::DatabasePorts;
use alleato_core::time::now;
use alleato_sqlite::SqliteDatabase;

/// The repair log, in memory.
#[derive(Default)]
struct Recorded(Mutex<Vec<RepairEntry>>);

impl RepairLog for Recorded {
    fn record(&self, entry: &RepairEntry) {
        self.0.lock().unwrap().push(entry.clone());
    }
}

impl Recorded {
    fn entries(&self) -> Vec<RepairEntry> {
        self.0.lock().unwrap().clone()
    }
}

struct Pair {
    dual: Arc<DualDatabase>,
    primary: Arc<SqliteDatabase>,
    secondary: Arc<SqliteDatabase>,
    log: Arc<Recorded>,
    counters: Arc<alleato_core::dual::DualWriteCounters>,
}

async fn pair(shadow_reads: f64) -> Pair {
    let primary = Arc::new(SqliteDatabase::memory().await.unwrap());
    let secondary = Arc::new(SqliteDatabase::memory().await.unwrap());
    let log = Arc::new(Recorded::default());
    let settings = DualWriteSettings { shadow_reads, secondary_timeout: Duration::from_secs(5) };
    let dual = DualWrite::new(settings, log.clone());
    let counters = dual.counters.clone();
    let dual = DualDatabase::new(DatabasePorts::new(primary.clone()), DatabasePorts::new(secondary.clone()), dual);
    Pair { dual, primary, secondary, log, counters }
}

/// The contract holds with every read shadowed.
mod contract {
    use super::*;
    alleato_core::database_conformance!(pair(1.0).await.dual);
}

fn user() -> User {
    User {
        id: UserId::new(),
        email: format!("{}@dual.example", UserId::new()),
        kind: UserKind::Regular,
        password_hash: Some("$argon2id$hash".into()),
        created_at: now(),
        sessions_valid_from: None,
    }
}

fn chat(user: UserId) -> Chat {
    Chat {
        id: ChatId::new(),
        user_id: user,
        title: "New chat".into(),
        visibility: Visibility::Private,
        created_at: now(),
        updated_at: now(),
    }
}

fn message(chat: ChatId, text: &str) -> StoredMessage {
    StoredMessage {
        id: MessageId::new(),
        chat_id: chat,
        role: Role::User,
        parts: vec![alleato_core::model::MessagePart::text(text)],
        attachments: Vec::new(),
        created_at: now(),
    }
}

async fn every_row(db: &SqliteDatabase) -> Vec<Record> {
    let mut all = Vec::new();
    for table in Table::ALL {
        all.extend(db.export_rows(table, None, None, 10_000).await.unwrap());
    }
    all
}

#[tokio::test]
async fn writes_reach_the_secondary_as_they_were() {
    let p = pair(0.0).await;
    let (alice, bob) = (user(), user());
    p.dual.insert_user(&alice).await.unwrap();
    p.dual.insert_user(&bob).await.unwrap();
    let chat = chat(alice.id);
    // A generation with the quota full on the primary only is refused, and writes nothing.
    let since = now() - std::time::Duration::from_secs(60);
    let start = |limit| GenerationStart { id: StreamId::new(), user: alice.id, at: now(), since, limit };
    let first = message(chat.id, "hello");
    let begin = GenerationBegin {
        quota: start(1),
        new_chat: Some(chat.clone()),
        delete_from: None,
        message: first.clone(),
        stream: StreamRecord { id: StreamId::new(), chat_id: chat.id, created_at: now() },
    };
    assert!(p.dual.begin_generation(&begin).await.unwrap().quota.allowed);
    let refused = GenerationBegin {
        quota: start(1),
        new_chat: None,
        delete_from: None,
        message: message(chat.id, "no"),
        stream: StreamRecord { id: StreamId::new(), chat_id: chat.id, created_at: now() },
    };
    assert!(!p.dual.begin_generation(&refused).await.unwrap().quota.allowed);
    p.dual.insert_messages(&[message(chat.id, "answer")]).await.unwrap();
    p.dual
        .set_vote(&alleato_core::model::Vote { chat_id: chat.id, message_id: first.id, is_upvoted: true })
        .await
        .unwrap();
    assert!(p.dual.set_title_if(chat.id, "New chat", "Greetings", now()).await.unwrap());
    p.dual.delete_user(bob.id).await.unwrap();

    assert_eq!(every_row(&p.secondary).await, every_row(&p.primary).await, "the secondary holds what the primary does");
    let stats = p.dual.stats().await.unwrap().dual_write.expect("dual-write's counts");
    assert_eq!(stats.secondary_failures, 0);
    assert!(stats.secondary_writes >= 7, "{stats:?}");
    // Only the delete is recorded: a backfill running beside it could bring the row back.
    let entries = p.log.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((entries[0].operation.as_str(), &entries[0].scopes[..]), ("delete_user", &[Scope::User(bob.id)][..]));
    assert_eq!(entries[0].error, None);
}

#[tokio::test]
async fn a_write_the_secondary_misses_succeeds_and_is_recorded() {
    let p = pair(0.0).await;
    // The user is only on the primary, as before a backfill.
    let alice = user();
    p.primary.insert_user(&alice).await.unwrap();
    let chat = chat(alice.id);
    p.dual.insert_chat(&chat).await.expect("the primary's answer counts");
    assert_eq!(p.dual.chat(chat.id).await.unwrap(), Some(chat.clone()));
    assert_eq!(p.secondary.chat(chat.id).await.unwrap(), None);
    let entries = p.log.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].operation, "insert_chat");
    assert_eq!(entries[0].scopes, vec![Scope::Chat(chat.id)]);
    assert!(entries[0].error.is_some());
    // A rename the secondary cannot apply (no such chat there) is recorded too.
    let renamed = Chat { title: "Renamed".into(), ..chat.clone() };
    p.dual.update_chat(&renamed).await.unwrap();
    assert_eq!(p.log.entries().len(), 2);
    assert_eq!(p.counters.snapshot().secondary_failures, 2);
    // A title the primary set and the secondary could not is a failure as well.
    p.secondary.insert_user(&alice).await.unwrap();
    p.secondary.insert_chat(&Chat { title: "Other".into(), ..chat.clone() }).await.unwrap();
    assert!(p.dual.set_title_if(chat.id, "Renamed", "Titled", now()).await.unwrap());
    assert_eq!(p.counters.snapshot().secondary_failures, 3);
    assert_eq!(p.log.entries()[2].operation, "set_title_if");
}

#[tokio::test]
async fn shadow_reads_count_what_the_secondary_answers_differently() {
    let p = pair(1.0).await;
    let alice = user();
    p.dual.insert_user(&alice).await.unwrap();
    let only_here = user();
    p.primary.insert_user(&only_here).await.unwrap();
    p.dual.user_by_id(alice.id).await.unwrap();
    p.dual.user_by_id(only_here.id).await.unwrap();
    // Shadow reads run in the background.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while p.counters.snapshot().shadow_reads < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = p.counters.snapshot();
    assert_eq!((seen.shadow_reads, seen.mismatches), (2, 1), "{seen:?}");
}
