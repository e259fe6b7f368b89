//! One side of a copy: its configuration, read from an env file, and its stores, opened by the
//! server's own wiring.

use std::path::Path;
use std::sync::Arc;

use alleato_core::migrations::MigrationPolicy;
use alleato_core::ports::{DatabaseTransfer, KeyValueStore, ObjectStorage};
use anyhow::{Context, bail};

use alleato_server::Config;
use alleato_server::wiring::{DatabaseBackend, Opener, StorageBackend, plan};

pub(super) struct Side {
    pub name: &'static str,
    pub database: Arc<dyn DatabaseTransfer>,
    pub objects: Arc<dyn ObjectStorage>,
    /// The key-value store (sessions), opened only for `--sessions`.
    pub kv: Option<Arc<dyn KeyValueStore>>,
    /// Which database, as the server's start-up log names it.
    pub database_backend: String,
    pub storage_backend: String,
    /// The database's own identity ([`DatabaseTransfer::store_id`]).
    pub store_id: String,
    /// Where the objects are: a canonical directory, or an endpoint and a bucket.
    storage_place: String,
}

impl Side {
    pub async fn open(
        name: &'static str,
        env_file: &Path,
        migrations: MigrationPolicy,
        sessions: bool,
    ) -> anyhow::Result<Self> {
        let mut config = Config::from_env_file(env_file).with_context(|| format!("the {name}'s settings"))?;
        config.database.migrations = migrations;
        let plan = plan(&config);
        match &plan.database.backend {
            DatabaseBackend::Memory => bail!("{name}: an in-memory database has nothing to copy (--ephemeral?)"),
            DatabaseBackend::Sqlite(path) | DatabaseBackend::D1Local(path)
                if migrations == MigrationPolicy::Refuse && !path.exists() =>
            {
                bail!("{name}: there is no database at {} (check ALLEATO_DATA_DIR)", path.display())
            }
            _ => {}
        }
        let storage_place = match &plan.storage.backend {
            StorageBackend::Memory => bail!("{name}: in-memory object storage has nothing to copy"),
            StorageBackend::Local(dir) | StorageBackend::R2Local(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("{name}: creating {}", dir.display()))?;
                let dir = dir.canonicalize().with_context(|| format!("{name}: {}", dir.display()))?;
                format!("directory {}", dir.display())
            }
            StorageBackend::S3 => format!(
                "S3 bucket {} at {} under {:?}",
                config.storage.s3_bucket.as_deref().unwrap_or_default(),
                config.storage.s3_endpoint.as_deref().unwrap_or("AWS"),
                config.storage.s3_prefix.as_deref().unwrap_or_default()
            ),
            StorageBackend::R2 => format!(
                "R2 bucket {} of account {} at {}",
                config.cloudflare.r2_bucket.as_deref().unwrap_or_default(),
                config.cloudflare.account_id.as_deref().unwrap_or_default(),
                config.cloudflare.r2_endpoint.as_deref().unwrap_or("r2.cloudflarestorage.com")
            ),
        };
        let opener = Opener::new(&config);
        let database =
            opener.database(&plan.database).await.with_context(|| format!("{name}: opening the database"))?;
        let objects = opener.objects(&plan.storage).with_context(|| format!("{name}: opening object storage"))?;
        let kv = match sessions {
            true => Some(opener.kv(&plan.kv).await.with_context(|| format!("{name}: opening the key-value store"))?),
            false => None,
        };
        let store_id =
            database.transfer.store_id().await.with_context(|| format!("{name}: the database's identity"))?;
        Ok(Self {
            name,
            database: database.transfer,
            objects,
            kv,
            database_backend: plan.database.backend.to_string(),
            storage_backend: plan.storage.backend.to_string(),
            store_id,
            storage_place,
        })
    }
}

/// Copying a store onto itself would find every row "already there" and prove nothing; two
/// names for one database (a URL and its alias, two paths to one file) are caught by identity.
pub(super) async fn refuse_same_stores(source: &Side, target: &Side) -> anyhow::Result<()> {
    if source.store_id == target.store_id {
        bail!(
            "the source and the target are the same database ({}, store {}); name another target",
            source.database_backend,
            source.store_id
        );
    }
    if source.storage_place == target.storage_place {
        bail!("the source and the target store objects in the same place ({})", source.storage_place);
    }
    // Schema versions: both were opened under a policy that refuses an outdated schema, and a
    // newer one never opens; say so when it matters.
    let (from, to) = (source.database.schema_version().await?, target.database.schema_version().await?);
    if from.applied != to.applied {
        bail!("the source's schema is at migration {}, the target's at {}", from.applied, to.applied);
    }
    Ok(())
}
