//! What a copy or a verify found: progress bars while it runs (indicatif, on a terminal), then a
//! one-screen summary, or JSON for scripts.

use alleato_core::ports::{RowKey, Table};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::sides::Side;

/// Keys listed per kind of difference; the counts go on.
const LISTED: usize = 50;

/// Lists a key under `what`, up to [`LISTED`] of them.
fn list(examples: &mut Vec<String>, what: &str, key: &dyn std::fmt::Display) {
    if examples.len() < LISTED {
        examples.push(format!("{what} {key}"));
    }
}

/// What a copy or a verify found, per table and for the stored objects: printed as a summary
/// ([`Summary::render`]) or as JSON (`--json`).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// `copy` or `verify`.
    pub command: &'static str,
    /// Whether this was a copy's `--dry-run` (nothing written).
    pub dry_run: bool,
    /// The source's database and object storage, as opened.
    pub source: SideSummary,
    /// The target's database and object storage, as opened.
    pub target: SideSummary,
    /// One report per table, in the order walked.
    pub tables: Vec<TableReport>,
    /// The stored objects (uploads).
    pub objects: ObjectReport,
    /// Whether the sessions were copied (`--sessions`); otherwise users sign in again when the
    /// key-value store changes too.
    pub sessions_copied: bool,
    /// What `--sessions` found and copied.
    pub sessions: Option<super::sessions::SessionReport>,
    /// Entries in the repair logs given with `--repair`.
    pub repair_entries: u64,
}

#[derive(Debug, Serialize)]
pub struct SideSummary {
    pub database: String,
    pub storage: String,
    pub store_id: String,
}

#[derive(Debug, Default, Serialize)]
pub struct TableReport {
    pub table: String,
    pub source_rows: u64,
    pub target_rows_before: u64,
    pub resumed_after: Option<String>,
    pub identical: u64,
    pub copied: u64,
    /// In the source, not in the target (not written: a dry run, or a verify).
    pub missing: u64,
    pub differing: u64,
    pub only_in_target: u64,
    /// Rows the target refused for a unique value it holds under another key.
    pub unwritten: u64,
    /// Rows under a repair log's scopes made equal to the source's (`--repair`): overwritten,
    /// or deleted from the target.
    pub repaired: u64,
    /// Some keys of each kind, for a person to look at.
    pub examples: Vec<String>,
    /// SHA-256 over the rows' checksums in key order, as walked (so a resumed copy's covers the
    /// rows after its checkpoint).
    pub source_checksum: String,
    pub target_checksum: String,
}

impl TableReport {
    pub(super) fn new(table: Table, source_rows: u64, target_rows_before: u64) -> Self {
        Self { table: table.name().into(), source_rows, target_rows_before, ..Self::default() }
    }

    fn example(&mut self, what: &str, key: &dyn std::fmt::Display) {
        list(&mut self.examples, what, key);
    }

    pub(super) fn note_differing(&mut self, key: &RowKey) {
        self.differing += 1;
        self.example("differs:", key);
    }

    pub(super) fn note_only_in_target(&mut self, key: &RowKey) {
        self.only_in_target += 1;
        self.example("only in target:", key);
    }

    pub(super) fn note_unwritten(&mut self, key: &RowKey) {
        self.unwritten += 1;
        self.example("not written (a unique value is taken in the target):", key);
    }
}

#[derive(Debug, Default, Serialize)]
pub struct ObjectReport {
    pub source_objects: u64,
    pub target_objects_before: u64,
    pub identical: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub missing: u64,
    pub differing: u64,
    pub only_in_target: u64,
    /// Objects a repair log names, made equal to the source's: replaced or deleted.
    pub repaired: u64,
    pub examples: Vec<String>,
}

impl ObjectReport {
    fn example(&mut self, what: &str, key: &str) {
        list(&mut self.examples, what, &key);
    }

    pub(super) fn note_differing(&mut self, key: &str) {
        self.differing += 1;
        self.example("differs:", key);
    }

    pub(super) fn note_missing(&mut self, key: &str) {
        self.missing += 1;
        self.example("missing in target:", key);
    }

    pub(super) fn note_only_in_target(&mut self, key: &str) {
        self.only_in_target += 1;
        self.example("only in target:", key);
    }
}

impl Summary {
    pub(super) fn new(copy: bool, dry_run: bool, source: &Side, target: &Side) -> Self {
        let side = |s: &Side| SideSummary {
            database: s.database_backend.clone(),
            storage: s.storage_backend.clone(),
            store_id: s.store_id.clone(),
        };
        Self {
            command: if copy { "copy" } else { "verify" },
            dry_run,
            source: side(source),
            target: side(target),
            tables: Vec::new(),
            objects: ObjectReport::default(),
            sessions_copied: false,
            sessions: None,
            repair_entries: 0,
        }
    }

    /// A copy is clean when nothing differs and every row was written; a verify (or a dry run)
    /// when the two sides hold the same rows and objects.
    pub fn is_clean(&self) -> bool {
        let conflicts = self.tables.iter().any(|t| t.differing + t.unwritten > 0) || self.objects.differing > 0;
        if self.command == "copy" && !self.dry_run {
            return !conflicts;
        }
        !conflicts
            && self.tables.iter().all(|t| t.missing + t.only_in_target == 0)
            && self.objects.missing + self.objects.only_in_target == 0
    }

    /// The summary for people: one line per table and one for the objects, with the counts of
    /// each kind of difference and some of the keys.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let verb = match (self.command, self.dry_run) {
            ("copy", true) => "copy (dry run: nothing written)",
            (command, _) => command,
        };
        let _ = writeln!(out, "alleato migrate {verb}");
        let _ =
            writeln!(out, "  from {} + {} (store {})", self.source.database, self.source.storage, self.source.store_id);
        let _ =
            writeln!(out, "  to   {} + {} (store {})", self.target.database, self.target.storage, self.target.store_id);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8}",
            "table", "source", "before", "same", "copied", "missing", "differ", "extra", "unwritten", "repaired"
        );
        for t in &self.tables {
            let _ = writeln!(
                out,
                "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8}",
                t.table,
                t.source_rows,
                t.target_rows_before,
                t.identical,
                t.copied,
                t.missing,
                t.differing,
                t.only_in_target,
                t.unwritten,
                t.repaired
            );
        }
        let o = &self.objects;
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8}",
            "objects",
            o.source_objects,
            o.target_objects_before,
            o.identical,
            o.copied,
            o.missing,
            o.differing,
            o.only_in_target,
            "-",
            o.repaired
        );
        let examples: Vec<String> = self
            .tables
            .iter()
            .flat_map(|t| t.examples.iter().map(move |e| format!("{}: {e}", t.table)))
            .chain(o.examples.iter().map(|e| format!("objects: {e}")))
            .collect();
        if !examples.is_empty() {
            let _ = writeln!(out, "\n{}", examples.join("\n"));
        }
        if self.repair_entries > 0 {
            let _ = writeln!(
                out,
                "\nrepair logs: {} entries; what they name was made equal to the source",
                self.repair_entries
            );
        }
        let _ = writeln!(out, "\nsessions are not copied: users sign in again if the key-value store changes too");
        let verdict = match (self.command, self.is_clean()) {
            ("copy", true) if self.dry_run => "the target already holds everything",
            ("copy", true) => "copied: run `alleato migrate verify` with the same files to compare everything",
            ("copy", false) if self.dry_run => "the target lacks or differs in what is listed above",
            ("copy", false) => "differences remain (listed above): nothing was overwritten",
            (_, true) => "identical",
            (_, false) => "the two sides differ (listed above)",
        };
        let _ = writeln!(out, "{verdict}");
        out
    }
}

/// Progress bars on standard error, one per table and one for objects, with rates and ETA;
/// hidden for `--json` and when standard error is not a terminal.
pub(super) struct Progress {
    bars: MultiProgress,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        Self { bars: MultiProgress::with_draw_target(target) }
    }

    pub fn table(&self, table: Table, rows: u64) -> ProgressBar {
        let style = ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} rows {per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        self.bars.add(ProgressBar::new(rows).with_style(style).with_prefix(table.name()))
    }

    pub fn objects(&self, bytes: u64) -> ProgressBar {
        let style =
            ProgressStyle::with_template("{prefix:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        self.bars.add(ProgressBar::new(bytes).with_style(style).with_prefix("objects"))
    }

    pub fn finish(&self) {
        let _ = self.bars.clear();
    }
}
