//! Dual-write's object-storage decorator: it keeps the storage contract, and what the
//! secondary misses is recorded for the repair.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alleato_core::dual::{DualObjects, DualWrite, DualWriteCounters, DualWriteSettings, RepairEntry, RepairLog, Scope};
use alleato_core::ports::ObjectStorage;
use alleato_objects::ObjectStoreAdapter;
use bytes::Bytes;

#[derive(Default)]
struct Recorded(Mutex<Vec<RepairEntry>>);

impl RepairLog for Recorded {
    fn record(&self, entry: &RepairEntry) {
        self.0.lock().unwrap().push(entry.clone());
    }
}

struct Pair {
    dual: Arc<DualObjects>,
    primary: Arc<ObjectStoreAdapter>,
    secondary: Arc<ObjectStoreAdapter>,
    log: Arc<Recorded>,
    counters: Arc<DualWriteCounters>,
}

fn pair(secondary: ObjectStoreAdapter) -> Pair {
    let (primary, secondary) = (Arc::new(ObjectStoreAdapter::memory()), Arc::new(secondary));
    let log = Arc::new(Recorded::default());
    let dual =
        DualWrite::new(DualWriteSettings { shadow_reads: 1.0, secondary_timeout: Duration::from_secs(5) }, log.clone());
    let counters = dual.counters.clone();
    Pair { dual: DualObjects::new(primary.clone(), secondary.clone(), dual), primary, secondary, log, counters }
}

mod contract {
    alleato_core::objects_conformance!(super::pair(alleato_objects::ObjectStoreAdapter::memory()).dual);
}

#[tokio::test]
async fn puts_and_deletes_reach_the_secondary_and_deletes_are_recorded() {
    let p = pair(ObjectStoreAdapter::memory());
    p.dual.put("files/u/a", Bytes::from_static(b"alpha"), "text/plain").await.unwrap();
    let stored = p.secondary.get("files/u/a").await.unwrap().expect("written to the secondary");
    assert_eq!(&stored.bytes[..], b"alpha");
    // A backfill that copied the object first is no failure.
    p.secondary.put("files/u/b", Bytes::from_static(b"beta"), "text/plain").await.unwrap();
    p.dual.put("files/u/b", Bytes::from_static(b"beta"), "text/plain").await.unwrap();
    assert_eq!(p.counters.snapshot().secondary_failures, 0);
    p.dual.delete("files/u/a").await.unwrap();
    assert!(p.secondary.get("files/u/a").await.unwrap().is_none());
    let entries = p.log.0.lock().unwrap().clone();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].operation.as_str(), entries[0].error.as_deref()), ("delete", None));
    assert_eq!(entries[0].scopes, vec![Scope::Object("files/u/a".into())]);
}

#[tokio::test]
async fn a_put_the_secondary_refuses_succeeds_and_is_recorded() {
    // A secondary directory that cannot be written: a plain file stands where it was.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("objects");
    let secondary = ObjectStoreAdapter::local(&root).unwrap();
    let p = pair(secondary);
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::write(&root, b"not a directory").unwrap();
    p.dual.put("files/u/c", Bytes::from_static(b"gamma"), "text/plain").await.expect("the primary's answer counts");
    assert!(p.primary.get("files/u/c").await.unwrap().is_some());
    let entries = p.log.0.lock().unwrap().clone();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].scopes, vec![Scope::Object("files/u/c".into())]);
    assert!(entries[0].error.is_some());
    assert_eq!(p.counters.snapshot().secondary_failures, 1);
    // A shadowed read of it finds the secondary without it.
    p.dual.get("files/u/c").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while p.counters.snapshot().shadow_reads < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(p.counters.snapshot().mismatches, 1);
}
