//! `alleato migrate`: moves one deployment's data to other stores (SQLite to PostgreSQL, a
//! local directory to S3, and back), and proves that nothing was lost.
//!
//! Each side is an env file with the server's own variables, read exactly as the server reads
//! its environment ([`Config::from_env_file`](alleato_server::Config::from_env_file)), and opened by the server's own wiring. A copy is
//! a comparison first: every table is read from the source in key order, a batch at a time,
//! beside the same key range of the target; rows the target lacks are written, rows it holds
//! identically are skipped, rows that differ are reported and never overwritten. So a copy can
//! be run again at any time (after a crash, a Ctrl-C, or while the source still takes writes)
//! and copies only what is missing; a checkpoint file only saves the re-reading. `verify` is
//! the same walk without writes, and also lists what only the target holds.

mod objects;
mod repairs;
mod report;
mod sessions;
mod sides;
mod tables;

use std::path::PathBuf;

use alleato_core::migrations::MigrationPolicy;

pub use self::report::Summary;
use self::sides::Side;

/// `alleato migrate …`
#[derive(Debug, clap::Subcommand)]
pub enum MigrateCommand {
    /// Copy every table and stored object from the source's stores to the target's.
    Copy(CopyArgs),
    /// Compare the two sides' stores row by row and object by object; exit 1 on any difference.
    Verify(SideArgs),
}

/// The two deployments and how to read them: what `copy` and `verify` share.
#[derive(Debug, Clone, clap::Args)]
pub struct SideArgs {
    /// The source deployment's env file (the server's variables, as in `.env.example`).
    #[arg(long, value_name = "ENV_FILE")]
    pub from: PathBuf,
    /// The target deployment's env file.
    #[arg(long, value_name = "ENV_FILE")]
    pub to: PathBuf,
    /// Print the summary as JSON (for scripts), and no progress bars.
    #[arg(long)]
    pub json: bool,
    /// Rows read (and written) per round trip.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub batch: u16,
}

/// The options of `alleato migrate copy`.
#[derive(Debug, Clone, clap::Args)]
pub struct CopyArgs {
    /// The source, the target and how to read them.
    #[command(flatten)]
    pub sides: SideArgs,
    /// Count what would be copied; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where the copy records how far each table got (default: beside the target's env file).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// A dual-write repair log (`DUAL_WRITE_REPAIR_LOG`; one per instance, the option may be
    /// repeated): the rows and objects it names are made equal to the source's in the target,
    /// overwritten or deleted. Nothing else is ever overwritten.
    #[arg(long, value_name = "REPAIR_LOG")]
    pub repair: Vec<PathBuf>,
    /// Also copy the live sessions, from the source's key-value store to the target's (with
    /// the same `JWT_SECRET`, nobody signs in again). Run it with the target's servers stopped
    /// when its key-value store is the embedded one (a running server would not see them).
    #[arg(long)]
    pub sessions: bool,
}

/// Runs the command; `Ok(false)` when it found differences (or rows it could not write), which
/// the binary turns into exit code 1.
pub async fn run(command: MigrateCommand) -> anyhow::Result<bool> {
    let (sides, copy) = match command {
        MigrateCommand::Copy(args) => (args.sides.clone(), Some(args)),
        MigrateCommand::Verify(sides) => (sides, None),
    };
    let dry_run = copy.as_ref().is_some_and(|c| c.dry_run);
    let with_sessions = copy.as_ref().is_some_and(|c| c.sessions);
    let source = Side::open("source", &sides.from, MigrationPolicy::Refuse, with_sessions).await?;
    // A copy's target (a dry run's too, so that it can count against a fresh one) gets the
    // schema if it has none at all; an outdated one is refused.
    let target_policy = if copy.is_some() { MigrationPolicy::CreateOnly } else { MigrationPolicy::Refuse };
    let target = Side::open("target", &sides.to, target_policy, with_sessions).await?;
    sides::refuse_same_stores(&source, &target).await?;

    let progress = report::Progress::new(sides.json);
    let mut summary = Summary::new(copy.is_some(), dry_run, &source, &target);
    let checkpoint = match &copy {
        Some(args) if !dry_run => {
            let path = args.checkpoint.clone().unwrap_or_else(|| tables::Checkpoint::default_path(&sides.to));
            Some(tables::Checkpoint::load(path, &source.store_id, &target.store_id)?)
        }
        _ => None,
    };
    let repairs = match &copy {
        Some(args) => repairs::Repairs::load(&args.repair)?,
        None => repairs::Repairs::default(),
    };
    summary.repair_entries = repairs.entries;
    let walk = tables::Walk {
        source: &source,
        target: &target,
        batch: usize::from(sides.batch),
        write: copy.is_some() && !dry_run,
        repairs: &repairs,
    };
    summary.tables = walk.all(checkpoint, &progress).await?;
    if let (Some(from), Some(to)) = (&source.kv, &target.kv) {
        // After the tables: a session names its user, who must be there first.
        summary.sessions = Some(sessions::copy(from.as_ref(), to.as_ref(), walk.write).await?);
        summary.sessions_copied = walk.write;
    }
    let content_types = tables::content_types(source.database.as_ref()).await?;
    summary.objects =
        objects::walk(&source, &target, (walk.write, copy.is_none()), &content_types, &repairs, &progress).await?;
    progress.finish();
    if sides.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.render());
    }
    Ok(summary.is_clean())
}
