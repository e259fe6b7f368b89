//! Sessions (`--sessions`): every live `session:{jti}` record of the source's key-value store
//! written to the target's for the time it has left, so that nobody signs in again when the
//! key-value store moves too. The tokens stay valid only where `JWT_SECRET` is the same.

use alleato_core::ports::KeyValueStore;
use alleato_core::services::{SESSION_KEY_PREFIX, session_time_left};
use anyhow::Context;
use futures::TryStreamExt;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct SessionReport {
    /// Live sessions found in the source.
    pub live: u64,
    pub copied: u64,
    /// Records past their expiry, or unreadable: not copied.
    pub skipped: u64,
}

/// Copies (`write`) or counts the source's live sessions.
pub(super) async fn copy(
    source: &dyn KeyValueStore,
    target: &dyn KeyValueStore,
    write: bool,
) -> anyhow::Result<SessionReport> {
    let mut report = SessionReport::default();
    let mut keys = source.keys(SESSION_KEY_PREFIX);
    while let Some(key) = keys.try_next().await.context("listing the source's sessions")? {
        // Ended since it was listed: nothing to copy.
        let Some(record) = source.get(&key).await.with_context(|| format!("reading {key}"))? else { continue };
        let Some(left) = session_time_left(&record, alleato_core::time::now()) else {
            report.skipped += 1;
            continue;
        };
        report.live += 1;
        if write {
            target.set(&key, &record, Some(left)).await.with_context(|| format!("writing {key} to the target"))?;
            report.copied += 1;
        }
    }
    Ok(report)
}
