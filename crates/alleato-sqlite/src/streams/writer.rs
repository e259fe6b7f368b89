//! The group-commit writer of [`SqliteStreams`](super::SqliteStreams): queued changes, written
//! in one transaction every few milliseconds, after which the written entries leave memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alleato_core::Result;
use alleato_core::time::Timestamp;
use bytes::Bytes;
use rusqlite::params;

use super::{GATHER, Inner, S};
use crate::errors::db;
use crate::sql::ts;

/// A change waiting for the writer, in the order it was made.
pub(super) enum Write {
    Create { id: Arc<str>, metadata: Arc<[u8]>, at: Timestamp, expires_at: i64 },
    Append { id: Arc<str>, seq: u64, data: Bytes, at: Timestamp, expires_at: i64 },
    Finish { id: Arc<str>, expires_at: i64 },
    Delete { id: Arc<str> },
}

/// Writes queued changes in groups until the store is dropped.
pub(super) async fn writer(inner: std::sync::Weak<Inner>) {
    loop {
        let Some(store) = inner.upgrade() else { return };
        let _ = tokio::time::timeout(Duration::from_secs(1), store.wake_writer.notified()).await;
        // Every handle is gone: write what is left, then stop.
        let last = Arc::strong_count(&store) == 1;
        if !last {
            tokio::time::sleep(GATHER).await;
        }
        let batch = {
            let mut state = store.state.lock().unwrap_or_else(|p| p.into_inner());
            store.busy.store(true, std::sync::atomic::Ordering::Release);
            std::mem::take(&mut state.queue)
        };
        if batch.is_empty() {
            store.busy.store(false, std::sync::atomic::Ordering::Release);
            if last {
                return;
            }
            continue;
        }
        let marks = write_marks(&batch);
        let (result, batch) = {
            let pool = store.pool.clone();
            let handle = tokio::task::spawn_blocking(move || {
                let result = pool.write_now(|tx| apply(tx, &batch));
                (result, batch)
            });
            match handle.await {
                Ok(done) => done,
                Err(err) => {
                    tracing::error!(error = %err, "the streams writer panicked");
                    store.busy.store(false, std::sync::atomic::Ordering::Release);
                    continue;
                }
            }
        };
        let failed = {
            let mut state = store.state.lock().unwrap_or_else(|p| p.into_inner());
            let failed = match result {
                Ok(()) => {
                    state.pending_bytes -= appended_bytes(&batch);
                    for (id, upto) in marks {
                        let Some(live) = state.live.get_mut(&id) else { continue };
                        while live.written < upto && !live.tail.is_empty() {
                            live.tail.pop_front();
                            live.written += 1;
                        }
                        if live.deleted || (live.done && live.written == live.len) {
                            // Finished and on disk (or deleted): the file is the truth from here.
                            state.live.remove(&id);
                        }
                    }
                    false
                }
                Err(err) => {
                    // Keep the writes, ahead of anything queued since, and try again shortly.
                    tracing::warn!(error = %err, "could not write streams; retrying");
                    let mut retry = batch;
                    retry.append(&mut state.queue);
                    state.queue = retry;
                    true
                }
            };
            store.busy.store(false, std::sync::atomic::Ordering::Release);
            failed
        };
        if failed {
            tokio::time::sleep(Duration::from_millis(100)).await;
            store.wake_writer.notify_one();
            continue;
        }
        store.written.notify_waiters();
    }
}

fn appended_bytes(batch: &[Write]) -> u64 {
    batch.iter().map(|w| if let Write::Append { data, .. } = w { data.len() as u64 } else { 0 }).sum()
}

/// For each stream the batch touches, the entry number written up to (and deletions).
fn write_marks(batch: &[Write]) -> HashMap<Arc<str>, u64> {
    let mut marks = HashMap::new();
    for write in batch {
        match write {
            Write::Append { id, seq, .. } => {
                marks.insert(id.clone(), *seq);
            }
            Write::Create { id, .. } | Write::Finish { id, .. } | Write::Delete { id } => {
                marks.entry(id.clone()).or_insert(0);
            }
        }
    }
    marks
}

fn apply(tx: &rusqlite::Transaction<'_>, batch: &[Write]) -> Result<()> {
    for write in batch {
        match write {
            Write::Create { id, metadata, at, expires_at } => {
                tx.prepare_cached(r#"DELETE FROM "streams" WHERE "id" = ?1"#)
                    .and_then(|mut s| s.execute([id.as_ref()]))
                    .map_err(db(S))?;
                tx.prepare_cached(
                    r#"INSERT INTO "streams" ("id", "metadata", "len", "bytes", "done", "createdAt", "updatedAt", "expiresAt")
                       VALUES (?1, ?2, 0, 0, 0, ?3, ?3, ?4)"#,
                )
                .and_then(|mut s| s.execute(params![id.as_ref(), metadata.as_ref(), ts(at), expires_at]))
                .map_err(db(S))?;
            }
            Write::Append { id, seq, data, at, expires_at } => {
                tx.prepare_cached(r#"INSERT INTO "stream_entries" ("streamId", "seq", "data") VALUES (?1, ?2, ?3)"#)
                    .and_then(|mut s| s.execute(params![id.as_ref(), *seq as i64, data.as_ref()]))
                    .map_err(db(S))?;
                tx.prepare_cached(
                    r#"UPDATE "streams" SET "len" = ?2, "bytes" = "bytes" + ?3, "updatedAt" = ?4, "expiresAt" = ?5
                       WHERE "id" = ?1"#,
                )
                .and_then(|mut s| s.execute(params![id.as_ref(), *seq as i64, data.len() as i64, ts(at), expires_at]))
                .map_err(db(S))?;
            }
            Write::Finish { id, expires_at } => {
                tx.prepare_cached(r#"UPDATE "streams" SET "done" = 1, "expiresAt" = ?2 WHERE "id" = ?1"#)
                    .and_then(|mut s| s.execute(params![id.as_ref(), expires_at]))
                    .map_err(db(S))?;
            }
            Write::Delete { id } => {
                tx.prepare_cached(r#"DELETE FROM "streams" WHERE "id" = ?1"#)
                    .and_then(|mut s| s.execute([id.as_ref()]))
                    .map_err(db(S))?;
            }
        }
    }
    Ok(())
}
