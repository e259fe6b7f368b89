//! The repair logs dual-write keeps (`--repair`): what they name, the target is made equal to
//! the source, overwritten or deleted. Everything else a copy only ever adds to.

use std::collections::HashSet;
use std::path::PathBuf;

use alleato_core::dual::{RepairEntry, Scope};
use alleato_core::ports::Record;
use anyhow::Context;

#[derive(Debug, Default)]
pub(super) struct Repairs {
    scopes: HashSet<Scope>,
    /// How many entries the logs held.
    pub entries: u64,
}

impl Repairs {
    /// Reads every log; an unreadable line is an error naming it (a repair must not skip one).
    pub fn load(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut repairs = Self::default();
        for path in paths {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let entry: RepairEntry = serde_json::from_str(line)
                    .with_context(|| format!("{}:{}: not a repair entry", path.display(), i + 1))?;
                repairs.entries += 1;
                repairs.scopes.extend(entry.scopes);
            }
        }
        Ok(repairs)
    }

    /// Whether the row is under a recorded scope.
    pub fn covers(&self, record: &Record) -> bool {
        !self.scopes.is_empty() && Scope::over(record).iter().any(|s| self.scopes.contains(s))
    }

    pub fn covers_object(&self, key: &str) -> bool {
        self.scopes.contains(&Scope::Object(key.to_owned()))
    }
}
