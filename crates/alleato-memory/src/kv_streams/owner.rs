//! What the instance that owns streams does in the background: writes each changed stream's
//! value (at most once per `flush_every`, never two writes of one value at once), forgets
//! finished and expired streams, and listens for stops and deletes asked of other instances.

use std::sync::Weak;
use std::time::{Duration, Instant};

use alleato_core::Result;
use alleato_core::ports::StreamStore;
use alleato_core::time::unix_millis;
use futures::StreamExt;

use super::record::{Header, Record};
use super::{DELETED, FLUSH_CONCURRENCY, Inner, KV_MIN_TTL, KvStreams, record_key, stop_key};

impl KvStreams {
    /// Writes every stream that changed since its last write, waiting where a value was
    /// written less than `flush_every` ago; for a graceful stop.
    pub async fn flush(&self) {
        for _ in 0..50 {
            let left = self.inner.flush_due(true).await;
            if left == 0 && !self.inner.owned(|o| o.values().any(|s| s.writing)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Inner {
    /// Writes the owned streams that changed; with `wait`, also those written too recently
    /// (after waiting out `flush_every`). Returns how many are still to write.
    async fn flush_due(&self, wait: bool) -> usize {
        let every = self.settings.flush_every;
        // Per changed stream, how long until its value may be written again.
        let spacing = || {
            self.owned(|o| {
                o.iter()
                    .filter(|(_, s)| s.dirty && !s.writing)
                    .map(|(id, s)| {
                        (id.clone(), s.last_write.map_or(Duration::ZERO, |at| every.saturating_sub(at.elapsed())))
                    })
                    .collect::<Vec<_>>()
            })
        };
        if wait && let Some(longest) = spacing().iter().map(|(_, w)| *w).max() {
            tokio::time::sleep(longest).await;
        }
        // Chosen after any wait: the flusher may have written one meanwhile.
        let due: Vec<String> = spacing().into_iter().filter(|(_, w)| w.is_zero()).map(|(id, _)| id).collect();
        futures::stream::iter(due)
            .for_each_concurrent(FLUSH_CONCURRENCY, |id| async move {
                let _ = self.write(&id).await;
            })
            .await;
        self.forget_finished().await;
        self.owned(|o| o.values().filter(|s| s.dirty).count())
    }

    /// Writes one owned stream's value as memory holds it now.
    async fn write(&self, id: &str) -> Result<()> {
        let (Some(info), Some(slice)) = (self.local.info(id).await?, self.local.read(id, 0, usize::MAX).await?) else {
            // Expired or deleted here: nothing to write; the value expires by itself.
            self.owned(|o| o.remove(id));
            return Ok(());
        };
        let Some(expires_at_ms) = self.owned(|o| {
            let owned = o.get_mut(id).filter(|s| !s.writing)?;
            (owned.dirty, owned.writing) = (false, true);
            Some(owned.expires_at_ms)
        }) else {
            return Ok(());
        };
        let record = Record {
            header: Header {
                v: 1,
                metadata: info.metadata,
                bytes: info.bytes,
                done: info.done,
                stop_requested: info.stop_requested,
                created_at: info.created_at,
                updated_at: info.updated_at,
                expires_at_ms,
            },
            entries: slice.entries.into_iter().map(|(_, e)| e).collect(),
        };
        let left = Duration::from_millis(u64::try_from(expires_at_ms - unix_millis()).unwrap_or(0));
        let written = self.kv.set(&record_key(id), &record.encode(), Some(left + KV_MIN_TTL)).await;
        self.owned(|o| {
            if let Some(owned) = o.get_mut(id) {
                (owned.last_write, owned.writing) = (Some(Instant::now()), false);
                if written.is_err() {
                    owned.dirty = true;
                }
            }
        });
        if let Err(err) = &written {
            tracing::warn!(stream = id, error = %err, "could not write a stream to Workers KV; will retry");
        }
        written
    }

    /// Finished streams written and older than `linger` leave memory (followers that come
    /// later read them from Workers KV), and so do expired ones.
    async fn forget_finished(&self) {
        let (linger, now) = (self.settings.linger, unix_millis());
        let gone: Vec<String> = self.owned(|o| {
            let gone: Vec<String> = o
                .iter()
                .filter(|(_, s)| {
                    let written = !s.dirty && s.last_write.is_some_and(|at| at.elapsed() >= linger);
                    (s.finished && written) || s.expires_at_ms <= now
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in &gone {
                o.remove(id);
            }
            gone
        });
        for id in gone {
            let _ = self.local.delete(&id).await;
        }
    }

    /// The owner's side of a stop or delete asked of another instance.
    pub(super) async fn poll_stop(&self, id: &str) {
        loop {
            tokio::time::sleep(self.settings.stop_poll_every).await;
            if !self.is_owned(id) {
                return;
            }
            match self.kv.get(&stop_key(id)).await {
                Ok(Some(what)) if what == DELETED => {
                    self.owned(|o| o.remove(id));
                    let _ = self.local.delete(id).await;
                    let _ = self.kv.delete(&record_key(id)).await;
                    return;
                }
                Ok(Some(_)) => {
                    if self.local.request_stop(id).await.is_ok() {
                        self.touch(id, None, false);
                    }
                    return;
                }
                Ok(None) => {}
                Err(err) => tracing::debug!(stream = id, error = %err, "could not read a stream's stop key"),
            }
        }
    }
}

/// Writes changed streams every `flush_every` until the store is dropped.
pub(super) async fn flusher(inner: Weak<Inner>) {
    let every = match inner.upgrade() {
        Some(inner) => inner.settings.flush_every,
        None => return,
    };
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        inner.flush_due(false).await;
    }
}
