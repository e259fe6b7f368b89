//! The walk over every table: source and target read side by side in key order, a batch at a
//! time, compared row by row; in a copy, what the target lacks is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alleato_core::ports::{DatabaseTransfer, Record, RowKey, Table};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::repairs::Repairs;
use super::report::{Progress, TableReport};
use super::sides::Side;

/// Rows per read of the target's side of a key range.
const TARGET_PAGE: usize = 5_000;

pub(super) struct Walk<'a> {
    pub source: &'a Side,
    pub target: &'a Side,
    pub batch: usize,
    /// Whether rows the target lacks are written (a copy that is not a dry run).
    pub write: bool,
    /// What dual-write's repair logs name, made equal to the source when writing.
    pub repairs: &'a Repairs,
}

/// A row's checksum: SHA-256 of its canonical form ([`Record::canonical`]), equal for equal
/// rows on any backend.
fn checksum(record: &Record) -> [u8; 32] {
    Sha256::digest(record.canonical().as_bytes()).into()
}

impl Walk<'_> {
    pub async fn all(
        &self,
        mut checkpoint: Option<Checkpoint>,
        progress: &Progress,
    ) -> anyhow::Result<Vec<TableReport>> {
        let mut reports = Vec::new();
        for table in Table::ALL {
            let resume = checkpoint.as_ref().and_then(|c| c.after(table));
            reports.push(self.table(table, resume, checkpoint.as_mut(), progress).await?);
        }
        if let Some(checkpoint) = checkpoint {
            checkpoint.complete()?;
        }
        Ok(reports)
    }

    async fn table(
        &self,
        table: Table,
        resume: Option<RowKey>,
        mut checkpoint: Option<&mut Checkpoint>,
        progress: &Progress,
    ) -> anyhow::Result<TableReport> {
        let (source, target) = (&self.source.database, &self.target.database);
        let source_rows = source.count_rows(table).await.with_context(|| format!("counting the source's {table}"))?;
        let mut report = TableReport::new(table, source_rows, target.count_rows(table).await?);
        let bar = progress.table(table, source_rows);
        let (mut source_digest, mut target_digest) = (Sha256::new(), Sha256::new());
        // Rows before the checkpoint were compared (and copied) by an earlier run.
        let mut after = resume;
        if let Some(resumed) = &after {
            report.resumed_after = Some(resumed.to_string());
        }
        loop {
            let rows = source
                .export_rows(table, after.as_ref(), None, self.batch)
                .await
                .with_context(|| format!("reading the source's {table}"))?;
            let Some(through) = rows.last().map(Record::key) else { break };
            let theirs = range(target.as_ref(), table, after.as_ref(), Some(&through)).await?;
            let found = compare(&rows, &theirs, &mut report, (&mut source_digest, &mut target_digest), self.repairs());
            self.repair(table, &found, &mut report).await?;
            let missing = found.missing;
            if self.write && !missing.is_empty() {
                let (missing, written) = self.import(table, missing, (after.as_ref(), &through)).await?;
                report.copied += written;
                if written < missing.len() as u64 {
                    // Skipped for a unique value the target already holds under another key (an
                    // email, a storage key): listed, never forced.
                    let now = range(target.as_ref(), table, after.as_ref(), Some(&through)).await?;
                    for row in &missing {
                        let key = row.key();
                        if !now.iter().any(|r| r.key() == key) {
                            report.note_unwritten(&key);
                        }
                    }
                }
            } else {
                report.missing += missing.len() as u64;
            }
            bar.inc(rows.len() as u64);
            after = Some(through);
            if let (Some(checkpoint), Some(reached)) = (checkpoint.as_deref_mut(), &after) {
                checkpoint.reached(table, reached)?;
            }
            if rows.len() < self.batch {
                break;
            }
        }
        // Whatever the target holds past the source's last key is the target's alone.
        let extras = range(target.as_ref(), table, after.as_ref(), None).await?;
        let found = compare(&[], &extras, &mut report, (&mut source_digest, &mut target_digest), self.repairs());
        self.repair(table, &found, &mut report).await?;
        report.source_checksum = hex(&source_digest.finalize());
        report.target_checksum = hex(&target_digest.finalize());
        bar.finish();
        Ok(report)
    }
}

impl Walk<'_> {
    /// The repair logs' scopes, when this walk writes.
    fn repairs(&self) -> Option<&Repairs> {
        self.write.then_some(self.repairs)
    }

    /// Writes the rows the target lacks. A live source may delete a row's parent after the
    /// batch was read (a chat, and with it its messages): the target then refuses the batch as
    /// `NotFound`, and the rows the source still holds in the range are written instead (read
    /// again, at most three times in all). Returns the rows tried last and how many were written.
    async fn import(
        &self,
        table: Table,
        mut rows: Vec<Record>,
        (after, through): (Option<&RowKey>, &RowKey),
    ) -> anyhow::Result<(Vec<Record>, u64)> {
        let mut attempt = 1;
        loop {
            match retried(|| self.target.database.import_rows(table, &rows)).await {
                Err(alleato_core::Error::NotFound { .. }) if attempt < 3 => {
                    let still = range(self.source.database.as_ref(), table, after, Some(through)).await?;
                    let still: std::collections::BTreeSet<RowKey> = still.iter().map(Record::key).collect();
                    rows.retain(|row| still.contains(&row.key()));
                    attempt += 1;
                }
                outcome => {
                    let written =
                        outcome.with_context(|| format!("writing {} rows of {table} to the target", rows.len()))?;
                    return Ok((rows, written));
                }
            }
        }
    }

    /// Makes the target's rows under the repair logs' scopes equal to the source's: deletes
    /// first (a deleted user's email may be a new user's), then overwrites.
    async fn repair(&self, table: Table, found: &Differences, report: &mut TableReport) -> anyhow::Result<()> {
        let target = &self.target.database;
        if !found.delete.is_empty() {
            retried(|| target.delete_rows(table, &found.delete))
                .await
                .with_context(|| format!("deleting {} rows of {table} from the target", found.delete.len()))?;
            report.repaired += found.delete.len() as u64;
        }
        if !found.overwrite.is_empty() {
            retried(|| target.overwrite_rows(table, &found.overwrite))
                .await
                .with_context(|| format!("overwriting {} rows of {table} in the target", found.overwrite.len()))?;
            report.repaired += found.overwrite.len() as u64;
        }
        Ok(())
    }
}

/// A write, tried again after a transient failure (`Unavailable`: a deadlock with a
/// dual-write's transaction, a database restarting), at most three times in all.
async fn retried<T, F>(mut write: impl FnMut() -> F) -> alleato_core::Result<T>
where
    F: Future<Output = alleato_core::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match write().await {
            Err(alleato_core::Error::Unavailable { .. }) if attempt < 3 => {
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// What a batch's comparison found for the target to be written.
#[derive(Default)]
struct Differences {
    /// Source rows the target lacks.
    missing: Vec<Record>,
    /// Source rows that differ in the target, under a repair scope.
    overwrite: Vec<Record>,
    /// Keys only the target holds, under a repair scope.
    delete: Vec<RowKey>,
}

/// Every row of `table` in `(after, through]` of `db` (to the end without `through`).
async fn range(
    db: &dyn DatabaseTransfer,
    table: Table,
    after: Option<&RowKey>,
    through: Option<&RowKey>,
) -> anyhow::Result<Vec<Record>> {
    let mut all: Vec<Record> = Vec::new();
    loop {
        let from = all.last().map(Record::key).or_else(|| after.copied());
        let page = db
            .export_rows(table, from.as_ref(), through, TARGET_PAGE)
            .await
            .with_context(|| format!("reading {table}"))?;
        let done = page.len() < TARGET_PAGE;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// Compares a batch of source rows with the target's rows of the same key range (both in key
/// order); notes what is identical, differs or is the target's alone, and returns what the
/// target should be given: the rows it lacks and, under `repairs`' scopes, what to overwrite
/// and delete (otherwise those are only noted).
fn compare(
    ours: &[Record],
    theirs: &[Record],
    report: &mut TableReport,
    (source_digest, target_digest): (&mut Sha256, &mut Sha256),
    repairs: Option<&Repairs>,
) -> Differences {
    let theirs: BTreeMap<RowKey, &Record> = theirs.iter().map(|r| (r.key(), r)).collect();
    let repaired = |row: &Record| repairs.is_some_and(|r| r.covers(row));
    let mut found = Differences::default();
    for row in ours {
        let key = row.key();
        let sum = checksum(row);
        source_digest.update(sum);
        match theirs.get(&key) {
            Some(other) if checksum(other) == sum => report.identical += 1,
            Some(other) if repaired(row) || repaired(other) => found.overwrite.push(row.clone()),
            Some(_) => report.note_differing(&key),
            None => found.missing.push(row.clone()),
        }
    }
    let ours: std::collections::BTreeSet<RowKey> = ours.iter().map(Record::key).collect();
    for (key, row) in &theirs {
        target_digest.update(checksum(row));
        if ours.contains(key) {
            continue;
        }
        if repaired(row) { found.delete.push(*key) } else { report.note_only_in_target(key) }
    }
    found
}

/// Every file's content type, by storage key. Read whole, not gathered during the walk: a
/// resumed copy starts the files table past its checkpoint, and its objects need them all.
pub(super) async fn content_types(
    db: &dyn DatabaseTransfer,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let files = range(db, Table::Files, None, None).await?;
    Ok(files
        .into_iter()
        .filter_map(|row| if let Record::File(f) = row { Some((f.storage_key, f.content_type)) } else { None })
        .collect())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How far a copy got, per table, for a re-run to start from. Kept per pair of stores (by
/// identity): another pair starts from the beginning. Losing it costs only re-reading.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Checkpoint {
    source: String,
    target: String,
    reached: BTreeMap<Table, RowKey>,
    #[serde(skip)]
    path: PathBuf,
}

impl Checkpoint {
    pub fn default_path(target_env: &Path) -> PathBuf {
        let mut name = target_env.file_name().unwrap_or_default().to_os_string();
        name.push(".migrate-checkpoint.json");
        target_env.with_file_name(name)
    }

    pub fn load(path: PathBuf, source: &str, target: &str) -> anyhow::Result<Self> {
        let fresh =
            || Self { source: source.into(), target: target.into(), reached: BTreeMap::new(), path: path.clone() };
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(fresh()) };
        match serde_json::from_str::<Self>(&text) {
            Ok(saved) if saved.source == source && saved.target == target => Ok(Self { path, ..saved }),
            // Another pair's, or unreadable: start over (a copy from the start is still right).
            _ => Ok(fresh()),
        }
    }

    fn after(&self, table: Table) -> Option<RowKey> {
        self.reached.get(&table).copied()
    }

    /// Records progress; written to a file beside and renamed over, so a crash leaves the old
    /// checkpoint or the new one, never half of one.
    fn reached(&mut self, table: Table, key: &RowKey) -> anyhow::Result<()> {
        self.reached.insert(table, *key);
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, &self.path).with_context(|| format!("writing {}", self.path.display()))
    }

    /// A finished copy leaves no checkpoint: the next run compares everything again (rows may
    /// have changed since).
    fn complete(self) -> anyhow::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }
}
