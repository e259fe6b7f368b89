//! What the streams file adds to the contract: replay after a restart, memory given back.

use super::*;

fn temp_path() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("alleato-streams-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("streams.sqlite3")
}

const TTL: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_restart_replays_what_was_written_and_lists_what_was_cut_short() {
    let path = temp_path();
    {
        let store = SqliteStreams::open(&path).await.unwrap();
        store.create("cut", b"owner", TTL).await.unwrap();
        store.create("whole", b"owner", TTL).await.unwrap();
        for chunk in [&b"one"[..], b"two", b"three"] {
            store.append("cut", chunk, TTL).await.unwrap();
            store.append("whole", chunk, TTL).await.unwrap();
        }
        store.finish("whole", TTL).await.unwrap();
        store.flush().await;
    }
    let store = SqliteStreams::open(&path).await.unwrap();
    let info = store.info("cut").await.unwrap().expect("kept on disk");
    assert_eq!((info.len, info.bytes, info.done, info.metadata.as_slice()), (3, 11, false, &b"owner"[..]));
    let read = store.read("cut", 1, 10).await.unwrap().unwrap();
    assert_eq!(read.entries, vec![(2, b"two".to_vec()), (3, b"three".to_vec())]);
    assert_eq!(store.unfinished().await.unwrap(), vec!["cut".to_owned()]);
    // It can go on where it stopped.
    assert_eq!(store.append("cut", b"four", TTL).await.unwrap(), 4);
    assert!(store.read("whole", 0, 10).await.unwrap().unwrap().done);
}

#[tokio::test]
async fn a_finished_stream_leaves_memory_once_written() {
    let store = SqliteStreams::memory().await.unwrap();
    store.create("s", b"", TTL).await.unwrap();
    for _ in 0..100 {
        store.append("s", &[7; 1000], TTL).await.unwrap();
    }
    store.finish("s", TTL).await.unwrap();
    store.flush().await;
    assert!(store.state().live.is_empty(), "nothing of it stays in memory");
    assert_eq!(store.state().pending_bytes, 0);
    let all = store.read("s", 0, 1000).await.unwrap().unwrap();
    assert_eq!((all.entries.len(), all.done), (100, true), "read back from the file");
    store.delete("s").await.unwrap();
    assert!(store.info("s").await.unwrap().is_none());
    store.flush().await;
    assert!(store.info("s").await.unwrap().is_none());
}
