//! Dual-write's wiring: the secondary's stores, opened from its env file as `alleato migrate`
//! opens a side, and the repair log (JSON lines in a file).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alleato_api::AdapterInfo;
use alleato_core::dual::{DualDatabase, DualObjects, DualWrite, DualWriteSettings, RepairEntry, RepairLog};
use alleato_core::ports::ObjectStorage;
use alleato_core::services::DatabasePorts;
use anyhow::{Context, bail};

use super::{Opener, plan};
use crate::config::Config;

/// The secondary's stores, and what the primary's are wrapped in.
pub(super) struct Secondary {
    dual: DualWrite,
    database: Option<DatabasePorts>,
    objects: Option<Arc<dyn ObjectStorage>>,
    /// The adapter table's rows for the secondary.
    pub rows: Vec<AdapterInfo>,
}

impl Secondary {
    /// Opens the secondary when `[dual_write] secondary` names one.
    pub async fn open(config: &Config) -> anyhow::Result<Option<Self>> {
        let settings = &config.dual_write;
        let Some(env_file) = &settings.secondary else { return Ok(None) };
        if !(0.0..=1.0).contains(&settings.shadow_reads) {
            bail!("DUAL_WRITE_SHADOW_READS must be between 0 and 1, not {}", settings.shadow_reads);
        }
        let theirs = Config::from_env_file(env_file)
            .with_context(|| format!("dual-write: the secondary's settings ({})", env_file.display()))?;
        if theirs.dual_write.secondary.is_some() {
            bail!("dual-write: the secondary's settings ({}) name a secondary of their own", env_file.display());
        }
        let (plan, open) = (plan(&theirs), Opener::new(&theirs));
        let why = format!("dual-write secondary ({})", env_file.display());
        let mut rows = Vec::new();
        let database = if settings.database {
            let database = open.database(&plan.database).await.context("dual-write: the secondary's database")?;
            rows.push(AdapterInfo {
                port: "database (secondary)".into(),
                backend: plan.database.backend.to_string(),
                why: why.clone(),
            });
            Some(database)
        } else {
            None
        };
        let objects = if settings.storage {
            let objects = open.objects(&plan.storage).context("dual-write: the secondary's object storage")?;
            rows.push(AdapterInfo {
                port: "storage (secondary)".into(),
                backend: plan.storage.backend.to_string(),
                why,
            });
            Some(objects)
        } else {
            None
        };
        let path = settings.repair_log.clone().unwrap_or_else(|| config.data_dir.join("dual-write-repairs.jsonl"));
        let log = FileRepairLog::open(&path)?;
        tracing::info!(repair_log = %path.display(), "dual-write is on: secondary writes that fail are recorded there");
        let dual = DualWrite::new(
            DualWriteSettings {
                shadow_reads: settings.shadow_reads,
                secondary_timeout: Duration::from_millis(settings.secondary_timeout_ms.max(1)),
            },
            Arc::new(log),
        );
        Ok(Some(Self { dual, database, objects, rows }))
    }

    /// The primary's database ports, writing to the secondary too. Two names for one database
    /// would have every secondary write fail as a duplicate: refused.
    pub async fn database(&self, primary: DatabasePorts) -> anyhow::Result<DatabasePorts> {
        let Some(secondary) = &self.database else { return Ok(primary) };
        let (ours, theirs) = (primary.transfer.store_id().await?, secondary.transfer.store_id().await?);
        if ours == theirs {
            bail!("dual-write: the secondary's database is the primary's (store {ours})");
        }
        Ok(DatabasePorts::new(DualDatabase::new(primary, secondary.clone(), self.dual.clone())))
    }

    pub fn objects(&self, primary: Arc<dyn ObjectStorage>) -> Arc<dyn ObjectStorage> {
        match &self.objects {
            Some(secondary) => DualObjects::new(primary, secondary.clone(), self.dual.clone()),
            None => primary,
        }
    }
}

/// The repair log: one JSON line per entry, appended to a file (created 0600) that `alleato
/// migrate copy --repair` reads. Each entry is one `write` of a whole line, so lines from
/// concurrent requests never interleave.
pub struct FileRepairLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl FileRepairLog {
    /// Opens the log at `path` for appending, creating it (owner-only) and its directory if
    /// missing.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).with_context(|| format!("opening the repair log {}", path.display()))?;
        Ok(Self { path: path.to_owned(), file: Mutex::new(file) })
    }
}

impl RepairLog for FileRepairLog {
    fn record(&self, entry: &RepairEntry) {
        let mut line = match serde_json::to_vec(entry) {
            Ok(line) => line,
            Err(err) => return tracing::error!(%err, "dual-write: a repair entry could not be written as JSON"),
        };
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(err) = file.write_all(&line) {
            tracing::error!(
                %err, path = %self.path.display(), ?entry,
                "dual-write: the repair log could not be written; run `migrate copy` and `verify` before switching"
            );
        }
    }
}
