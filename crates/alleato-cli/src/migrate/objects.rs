//! Stored objects (uploads, under `files/`): the target's are listed once; what it lacks is
//! read from the source and written, bytes and content type. `verify` reads both sides of each
//! object and compares their checksums.

use std::collections::HashMap;

use alleato_core::model::StoredObject;
use alleato_core::ports::ObjectEntry;
use anyhow::Context;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};

use super::repairs::Repairs;
use super::report::{ObjectReport, Progress};
use super::sides::Side;

/// Every object the application stores is under this prefix.
const PREFIX: &str = "files/";

/// Copies (`write`) or compares the objects; `deep` compares their bytes, not only their sizes.
/// `content_types` are the files' own, by storage key: a local directory keeps none, and a
/// copy to S3 or R2 should store the real one. In a copy, objects the repair logs name are made
/// equal to the source's (replaced, or deleted from the target).
pub(super) async fn walk(
    source: &Side,
    target: &Side,
    (write, deep): (bool, bool),
    content_types: &HashMap<String, String>,
    repairs: &Repairs,
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
        let repair = write && repairs.covers_object(&entry.key);
        match theirs.get(&entry.key) {
            Some(_) if repair => {
                // Read once: compared, and written when it differs.
                let Some(ours) = fetch(source, &entry.key).await? else { continue };
                let sum = (Sha256::digest(&ours.bytes).into(), ours.content_type.clone());
                if same(&Some(sum), &checksum(target, &entry.key).await?) {
                    report.identical += 1;
                } else {
                    target.objects.delete(&entry.key).await.with_context(|| format!("replacing {}", entry.key))?;
                    put(target, &entry.key, ours, content_types).await?;
                    report.repaired += 1;
                }
            }
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
                if let Some(object) = fetch(source, &entry.key).await? {
                    report.copied += 1;
                    report.copied_bytes += put(target, &entry.key, object, content_types).await?;
                }
            }
            None => report.note_missing(&entry.key),
        }
        bar.inc(entry.size);
    }
    let ours: std::collections::HashSet<&str> = ours.iter().map(|o| o.key.as_str()).collect();
    for key in theirs.keys().filter(|k| !ours.contains(k.as_str())) {
        if write && repairs.covers_object(key) {
            target.objects.delete(key).await.with_context(|| format!("deleting {key} from the target"))?;
            report.repaired += 1;
        } else {
            report.note_only_in_target(key);
        }
    }
    bar.finish();
    Ok(report)
}

/// The source's object; `None` when it no longer holds it (deleted since it was listed).
async fn fetch(source: &Side, key: &str) -> anyhow::Result<Option<StoredObject>> {
    source.objects.get(key).await.with_context(|| format!("reading {key} from the source"))
}

/// Writes one object to the target with its content type (the store's, else the file's);
/// returns its size.
async fn put(
    target: &Side,
    key: &str,
    object: StoredObject,
    content_types: &HashMap<String, String>,
) -> anyhow::Result<u64> {
    let content_type = object
        .content_type
        .as_deref()
        .or(content_types.get(key).map(String::as_str))
        .unwrap_or("application/octet-stream");
    let bytes = object.bytes.len() as u64;
    target
        .objects
        .put(key, object.bytes, content_type)
        .await
        .with_context(|| format!("writing {key} to the target"))?;
    Ok(bytes)
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
