//! The `alleato` server binary.

use alleato_server::Config;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// jemalloc with background purging (configured at build time in `.cargo/config.toml`) gives
/// freed memory back to the system about a second after a burst. With glibc's malloc, a burst
/// of concurrent password hashes (19 MiB each) left the process at gigabytes for good.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "alleato", version, about = "Alleato AI chat backend")]
struct Cli {
    /// Keep everything in memory; nothing survives a restart.
    #[arg(long, global = true)]
    ephemeral: bool,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    json_logs: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Print the effective configuration, secrets redacted.
    PrintConfig,
    /// Move the data to other stores and prove nothing was lost (see the README).
    #[command(subcommand)]
    Migrate(alleato_cli::migrate::MigrateCommand),
    /// Run one workload on two stacks (env files or running servers) and compare them:
    /// latency, throughput, errors, where the time goes, and whether results match.
    Ab(alleato_cli::ab::AbArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if let Some(Command::Migrate(command)) = cli.command {
        // Each side's settings come from its env file, not from this process's environment.
        // Logs go to standard error: standard output is the summary alone (`--json`).
        init_tracing(cli.json_logs, "warn", BoxMakeWriter::new(std::io::stderr));
        let clean = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?
            .block_on(alleato_cli::migrate::run(command))?;
        return Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    if let Some(Command::Ab(args)) = cli.command {
        // Each side is configured by its own env file; this process only drives and reports.
        init_tracing(cli.json_logs, "warn", BoxMakeWriter::new(std::io::stderr));
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?
            .block_on(alleato_cli::ab::run(args))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = Config::load().map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    config.ephemeral |= cli.ephemeral;
    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintConfig => {
            print!("{}", config.to_redacted_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(_) | Command::Ab(_) => unreachable!("handled above"),
        Command::Serve => {
            init_tracing(cli.json_logs, "info,tower_http=warn", BoxMakeWriter::new(std::io::stdout));
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?
                .block_on(serve(config))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_tracing(json: bool, default: &str, writer: BoxMakeWriter) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let mut server = match alleato_server::start(config).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!("cannot start: {err:#}");
            return Err(err);
        }
    };
    let shutdown = server.take_shutdown();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        if let Some(tx) = shutdown {
            let _ = tx.send(());
        }
    });
    server.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
