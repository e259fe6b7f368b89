//! Stored objects (uploads, under `files/`): the target's are listed once; what it lacks is
//! read from the source and written, bytes and content type. `verify` reads both sides of each
//! object and compares their checksums.

use std::collections::HashMap;

use alleato_core::ports::ObjectEntry;
use anyhow::Context;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};

use super::report::{ObjectReport, Progress};
use super::sides::Side;

/// Every object the application stores is under this prefix.
const PREFIX: &str = "files/";

/// Copies (`write`) or compares the objects; `deep` compares their bytes, not only their sizes.
/// `content_types` are the files' own, by storage key: a local directory keeps none, and a
/// copy to S3 or R2 should store the real one.
pub(super) async fn walk(
    source: &Side,
    target: &Side,
    (write, deep): (bool, bool),
    content_types: &HashMap<String, String>,
    progress: &Progress,
) -> anyhow::Result<ObjectReport> {
    let ours: Vec<ObjectEntry> =
        source.objects.list(PREFIX).try_collect().await.context("listing the source's objects")?;
    let theirs: HashMap<String, u64> = target
        .objects
        .list(PREFIX)
        .map_ok(|entry| (entry.key, entry.size))
        .try_collect()
        .await
        .context("listing the target's objects")?;
    let mut report = ObjectReport {
        source_objects: ours.len() as u64,
        target_objects_before: theirs.len() as u64,
        ..ObjectReport::default()
    };
    let bar = progress.objects(ours.iter().map(|o| o.size).sum());
    for entry in &ours {
        match theirs.get(&entry.key) {
            Some(size) if *size != entry.size => report.note_differing(&entry.key),
            Some(_) if deep => {
                if same(&checksum(source, &entry.key).await?, &checksum(target, &entry.key).await?) {
                    report.identical += 1;
                } else {
                    report.note_differing(&entry.key);
                }
            }
            Some(_) => report.identical += 1,
            None if write => {
                let object = source
                    .objects
                    .get(&entry.key)
                    .await
                    .with_context(|| format!("reading {} from the source", entry.key))?;
                // Deleted since it was listed: nothing to copy.
                let Some(object) = object else { continue };
                let content_type = object
                    .content_type
                    .as_deref()
                    .or(content_types.get(&entry.key).map(String::as_str))
                    .unwrap_or("application/octet-stream");
                let bytes = object.bytes.len() as u64;
                target
                    .objects
                    .put(&entry.key, object.bytes, content_type)
                    .await
                    .with_context(|| format!("writing {} to the target", entry.key))?;
                report.copied += 1;
                report.copied_bytes += bytes;
            }
            None => report.note_missing(&entry.key),
        }
        bar.inc(entry.size);
    }
    let ours: std::collections::HashSet<&str> = ours.iter().map(|o| o.key.as_str()).collect();
    for key in theirs.keys().filter(|k| !ours.contains(k.as_str())) {
        report.note_only_in_target(key);
    }
    bar.finish();
    Ok(report)
}

/// The SHA-256 of an object's bytes, and its content type where the store keeps one (a local
/// directory does not); `None` for a missing object.
async fn checksum(side: &Side, key: &str) -> anyhow::Result<Option<([u8; 32], Option<String>)>> {
    let object = side.objects.get(key).await.with_context(|| format!("reading {key} from the {}", side.name))?;
    Ok(object.map(|o| (Sha256::digest(&o.bytes).into(), o.content_type)))
}

/// Same bytes, and the same content type unless one side keeps none.
fn same(a: &Option<([u8; 32], Option<String>)>, b: &Option<([u8; 32], Option<String>)>) -> bool {
    match (a, b) {
        (Some((x, tx)), Some((y, ty))) => x == y && (tx.is_none() || ty.is_none() || tx == ty),
        (None, None) => true,
        _ => false,
    }
}
