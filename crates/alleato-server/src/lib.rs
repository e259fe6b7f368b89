//! Alleato's native server: configuration ([`config`]), the composition root ([`wiring`]), the
//! accept loop with its limits, the background work and the lifecycle, around `alleato-http`'s
//! router. [`start`] is what the `alleato` binary (`alleato-cli`) and the end-to-end tests both
//! run; [`Alleato`] and [`Builder`] embed it in another program.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
mod metrics;
mod serve;
pub mod wiring;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alleato_api::AdapterInfo;
use alleato_core::ports::{Counters, KeyValueStore, LanguageModel, ObjectStorage, StreamStore};
use alleato_core::services::AuthService;
use alleato_core::services::DatabasePorts;
use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use alleato_http::ApiError;
pub use config::Config;

/// The application over `services`: `alleato-http`'s router, with the settings it reads from
/// `config`, timed by route when metrics are on.
fn app(
    services: alleato_core::services::Services,
    adapters: Vec<AdapterInfo>,
    config: &Config,
) -> anyhow::Result<Router> {
    let settings = alleato_http::HttpSettings {
        adapters,
        admin_key: config.admin.api_key.clone(),
        rate_limit: config.rate_limit.clone(),
        trust_forwarded_for: config.trust_forwarded_for,
        web_app: config.web_app,
        cors_origins: config.cors_origins.clone(),
        max_body_bytes: config.max_body_bytes,
        max_upload_bytes: config.max_upload_bytes,
        request_timeout: Duration::from_secs(config.request_timeout_secs),
    };
    let router = alleato_http::router(services, settings)?;
    // A layer of a `Router` runs once the route is matched, so it sees the route's template.
    Ok(if config.metrics_addr.is_some() { router.layer(axum::middleware::from_fn(metrics::http)) } else { router })
}

/// A server running in the background: its address, and a handle to stop it gracefully.
pub struct RunningServer {
    /// The address it listens on: `config.addr`, with the port the system chose when that was
    /// port 0.
    pub addr: SocketAddr,
    /// Where `GET /metrics` answers, when `ALLEATO_METRICS_ADDR` is set.
    pub metrics_addr: Option<SocketAddr>,
    /// The start-up table: which backend serves each port, and why.
    pub adapters: Vec<AdapterInfo>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.context("server task")?
    }

    /// Waits for the server to end (after [`RunningServer::stop`] or a fatal error).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("server task")?
    }

    /// A sender that triggers graceful shutdown when used (for signal handlers).
    pub fn take_shutdown(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }
}

/// Alleato assembled and ready to serve, but not listening: its router, which a program may
/// mount inside its own axum application (see the `mount` example), and the work that runs
/// beside it (the sweep of orphaned uploads, other instances' logouts, the streams to flush at
/// the end). [`start`] builds one and serves it on `config.addr`.
pub struct Alleato {
    router: Router,
    adapters: Vec<AdapterInfo>,
    metrics_addr: Option<SocketAddr>,
    background: Vec<JoinHandle<()>>,
    lifecycle: wiring::Lifecycle,
}

/// What [`Alleato`] is built from: the configuration, and parts an embedding program supplies
/// itself instead of the configured ones.
pub struct Builder {
    config: Config,
    overrides: wiring::Overrides,
}

impl Builder {
    /// Everything from `config`, until a part is supplied instead.
    pub fn new(config: Config) -> Self {
        Self { config, overrides: wiring::Overrides::default() }
    }

    /// Answers with this language model instead of the configured one (the adapter table
    /// names it by its `describe()`).
    pub fn model(mut self, model: Arc<dyn LanguageModel>) -> Self {
        self.overrides.model = Some(model);
        self
    }

    /// Keeps users, chats, documents and file metadata in this database instead of the
    /// configured one; `name` is what the adapter table shows (its first word, the metrics
    /// label).
    pub fn database(mut self, name: impl Into<String>, database: DatabasePorts) -> Self {
        self.overrides.database = Some(wiring::Given::new(name, database));
        self
    }

    /// Keeps uploads in this object storage instead of the configured one.
    pub fn objects(mut self, name: impl Into<String>, objects: Arc<dyn ObjectStorage>) -> Self {
        self.overrides.objects = Some(wiring::Given::new(name, objects));
        self
    }

    /// Keeps sessions in this key-value store instead of the configured one.
    pub fn kv(mut self, name: impl Into<String>, kv: Arc<dyn KeyValueStore>) -> Self {
        self.overrides.kv = Some(wiring::Given::new(name, kv));
        self
    }

    /// Counts rate limits and quotas in these counters instead of the configured ones.
    pub fn counters(mut self, name: impl Into<String>, counters: Arc<dyn Counters>) -> Self {
        self.overrides.counters = Some(wiring::Given::new(name, counters));
        self
    }

    /// Writes generations to this streams store instead of the configured one (the program
    /// flushes it, if it must, after [`Alleato::shutdown`]).
    pub fn streams(mut self, name: impl Into<String>, streams: Arc<dyn StreamStore>) -> Self {
        self.overrides.streams = Some(wiring::Given::new(name, streams));
        self
    }

    /// Opens every adapter, ends the generations a crash left unfinished, and starts the
    /// background work (and the metrics listener, when configured).
    pub async fn build(self) -> anyhow::Result<Alleato> {
        let config = self.config;
        let metrics_addr = match config.metrics_addr {
            Some(addr) => Some(metrics::serve(addr).await?),
            None => None,
        };
        let wired = wiring::wire_with(&config, self.overrides).await?;
        log_adapter_table(&wired.adapters);
        // Generations the last run left unfinished (a crash, a kill): store what they said.
        match wired.lifecycle.recover(&wired.services.generation).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(generations = n, "ended generations the last run left unfinished"),
            Err(err) => tracing::error!(error = %err, "could not end the generations the last run left unfinished"),
        }
        // The login timing equaliser costs one Argon2 hash: compute it off the start-up path.
        tokio::task::spawn_blocking(AuthService::warm_up);
        let files = wired.services.files.clone();
        let mut background = Vec::new();
        if let Some(revocations) = wired.services.auth.revocations().cloned() {
            tracing::info!(
                poll_secs = revocations.poll_every().as_secs(),
                "sessions live in an eventually consistent store: reading other instances' logouts from the database"
            );
            background.push(tokio::spawn(revocations.run()));
        }
        // Adapters sweep their own expired entries; this is the service-level sweep.
        background.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            every.tick().await; // Not at start: a listing of the whole bucket on every start of every instance.
            loop {
                every.tick().await;
                sweep_orphaned_uploads(&files).await;
            }
        }));
        Ok(Alleato {
            router: app(wired.services, wired.adapters.clone(), &config)?,
            adapters: wired.adapters,
            metrics_addr,
            background,
            lifecycle: wired.lifecycle,
        })
    }
}

impl Alleato {
    /// Builds Alleato from the configuration alone.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Builder::new(config).build().await
    }

    /// Every route (`/api/v1/...`, `/health`, `/ready`, the web app when on) and layer. Nest it
    /// under a prefix with `Router::nest_service`; the web app expects to be at `/`, so an
    /// embedding program usually turns it off (`web_app = false`). Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()`: rate limits key on the peer.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Which adapter serves each port, and why (the start-up table).
    pub fn adapters(&self) -> &[AdapterInfo] {
        &self.adapters
    }

    /// Where `GET /metrics` answers, when `ALLEATO_METRICS_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Stops the background work and flushes what the streams stores hold in memory. Call it
    /// once the router no longer serves requests.
    pub async fn shutdown(self) {
        for task in &self.background {
            task.abort();
        }
        self.lifecycle.flush().await;
    }
}

/// Wires the adapters, binds `config.addr` and serves until stopped.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let limits = serve::ConnectionLimits {
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
        max_connections: serve::fit_connection_cap(config.max_connections.max(1)),
    };
    let bind = config.addr;
    let alleato = Alleato::build(config).await?;
    let listener = TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let (adapters, metrics_addr, router) = (alleato.adapters.clone(), alleato.metrics_addr, alleato.router());
    let task = tokio::spawn(async move {
        serve::serve(listener, router, limits, async {
            let _ = rx.await;
        })
        .await;
        alleato.shutdown().await;
        Ok(())
    });
    tracing::info!(%addr, "alleato listening");
    Ok(RunningServer { addr, metrics_addr, adapters, shutdown: Some(tx), task })
}

/// Bytes with no metadata older than an hour: what a process killed mid-upload leaves. The
/// hour keeps uploads in flight on any instance safe.
async fn sweep_orphaned_uploads(files: &alleato_core::services::FileService) {
    if let Err(err) = files.sweep_orphans(Duration::from_secs(3600)).await {
        tracing::warn!(error = %err, "could not sweep orphaned uploads");
    }
}

fn log_adapter_table(adapters: &[AdapterInfo]) {
    let width = adapters.iter().map(|a| a.backend.len()).max().unwrap_or(7).max(7);
    let mut table = format!("\n  {:<10} {:<width$} why\n", "port", "backend");
    for a in adapters {
        table.push_str(&format!("  {:<10} {:<width$} {}\n", a.port, a.backend, a.why));
    }
    tracing::info!("adapters:{table}");
}
