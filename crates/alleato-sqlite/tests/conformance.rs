//! The shared port contracts, run against the SQLite adapters: in memory and on disk.

use std::sync::Arc;

use alleato_sqlite::{SqliteDatabase, SqliteKv};

mod database_in_memory {
    use super::*;
    alleato_core::database_conformance!(Arc::new(SqliteDatabase::memory().await.unwrap()));
}

mod database_on_disk {
    use super::*;
    alleato_core::database_conformance!({
        let dir = tempfile::tempdir().unwrap();
        // Leak the directory for the test's life: the database must outlive this block.
        let path = dir.keep().join("alleato.sqlite3");
        Arc::new(SqliteDatabase::open(&path).await.unwrap())
    });
}

mod counters_in_the_database {
    use super::*;
    alleato_core::counters_conformance!(Arc::new(SqliteDatabase::memory().await.unwrap()));
}

mod counters_on_disk {
    use super::*;
    alleato_core::counters_conformance!({
        let path = tempfile::tempdir().unwrap().keep().join("kv.sqlite3");
        Arc::new(SqliteKv::open(&path).await.unwrap())
    });
}

/// Workers KV's local stand-in: the same store declaring KV's 60 s minimum TTL, so the expiry
/// cases wait past a minute instead of a second.
mod kv_with_workers_kv_limits {
    use super::*;
    alleato_core::kv_conformance!({
        use alleato_core::ports::{Consistency, KvCapabilities};
        use std::time::Duration;
        let path = tempfile::tempdir().unwrap().keep().join("workers-kv.sqlite3");
        let limits = KvCapabilities {
            min_ttl: Duration::from_secs(60),
            consistency: Consistency::Eventual { within: Duration::from_secs(60) },
        };
        Arc::new(SqliteKv::open(&path).await.unwrap().with_capabilities(limits))
    });
}

mod kv_on_disk {
    use super::*;
    alleato_core::kv_conformance!({
        let path = tempfile::tempdir().unwrap().keep().join("kv.sqlite3");
        Arc::new(SqliteKv::open(&path).await.unwrap())
    });
}

#[tokio::test]
async fn data_survives_reopening() {
    use alleato_core::ports::{KeyValueStore, UserStore};
    let dir = tempfile::tempdir().unwrap();
    let user = alleato_core::model::User {
        id: alleato_core::ids::UserId::new(),
        email: "persist@example.com".into(),
        kind: alleato_core::model::UserKind::Regular,
        password_hash: None,
        created_at: alleato_core::time::now(),
        sessions_valid_from: None,
    };
    {
        let db = SqliteDatabase::open(&dir.path().join("db.sqlite3")).await.unwrap();
        db.insert_user(&user).await.unwrap();
        let kv = SqliteKv::open(&dir.path().join("kv.sqlite3")).await.unwrap();
        kv.set("session:x", b"alive", None).await.unwrap();
    }
    let db = SqliteDatabase::open(&dir.path().join("db.sqlite3")).await.unwrap();
    assert_eq!(db.user_by_id(user.id).await.unwrap(), Some(user));
    let kv = SqliteKv::open(&dir.path().join("kv.sqlite3")).await.unwrap();
    assert_eq!(kv.get("session:x").await.unwrap().as_deref(), Some(&b"alive"[..]));
}

#[tokio::test]
async fn expired_entries_are_purged() {
    use alleato_core::ports::KeyValueStore;
    let kv = SqliteKv::memory().await.unwrap();
    kv.set("short", b"v", Some(std::time::Duration::from_secs(1))).await.unwrap();
    kv.set("long", b"v", None).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(kv.purge_expired().await.unwrap(), 1);
    assert!(kv.get("long").await.unwrap().is_some());
}
