//! One side of a comparison: a server this command starts from an env file (and stops), or one
//! already running at a URL.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct Side {
    /// `A` or `B`.
    pub name: &'static str,
    /// What the user gave: the env file's path or the URL.
    pub source: String,
    pub url: String,
    /// Where `GET /metrics` answers, when it does.
    pub metrics_url: Option<String>,
    /// The adapter table (`GET /health`).
    pub adapters: Vec<alleato_api::AdapterInfo>,
    process: Option<Child>,
    /// A data directory this command made for the side (and so removes, when the side ends).
    _scratch: Option<tempfile::TempDir>,
}

/// Settings the command gives a server it starts unless the env file sets them: a data
/// directory of its own, no per-IP rate limit and no daily quota (the workload is one client
/// making thousands of requests), metrics on a free port.
const OVERRIDABLE: &[(&str, &str)] = &[
    ("RATE_LIMIT_ENABLED", "false"),
    ("ALLEATO_CHAT__GUEST_MESSAGES_PER_DAY", "100000000"),
    ("ALLEATO_CHAT__REGULAR_MESSAGES_PER_DAY", "100000000"),
    ("RUST_LOG", "warn"),
];

impl Side {
    /// Starts `alleato serve` with the env file's variables (and nothing else of this process's
    /// environment but `PATH` and `HOME`) on a free port, and waits until it is ready. Its log
    /// goes to `server-<side>.log` in `out`.
    pub async fn start(
        http: &reqwest::Client,
        name: &'static str,
        env_file: &Path,
        out: &Path,
    ) -> anyhow::Result<Self> {
        let vars = alleato_server::Config::env_file_vars(env_file)?;
        let set = |key: &str| vars.iter().any(|(k, _)| k == key);
        let addr = free_port()?;
        let mut command = Command::new(std::env::current_exe().context("finding the alleato binary")?);
        command.arg("serve").env_clear();
        for key in ["PATH", "HOME"] {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        command.envs(OVERRIDABLE.iter().copied().filter(|(key, _)| !set(key)));
        let scratch = if set("ALLEATO_DATA_DIR") {
            None
        } else {
            let dir = tempfile::Builder::new().prefix(&format!("alleato-ab-{}-", name.to_lowercase())).tempdir()?;
            command.env("ALLEATO_DATA_DIR", dir.path());
            Some(dir)
        };
        let metrics = if set("ALLEATO_METRICS_ADDR") {
            vars.iter().find(|(k, _)| k == "ALLEATO_METRICS_ADDR").map(|(_, v)| v.clone())
        } else {
            let metrics = free_port()?.to_string();
            command.env("ALLEATO_METRICS_ADDR", &metrics);
            Some(metrics)
        };
        command.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command.env("ALLEATO_ADDR", addr.to_string());
        // The server logs to stdout, and panics go to stderr: both into one file, which also
        // never fills up and blocks the server the way an unread pipe would.
        let log = out.join(format!("server-{}.log", name.to_lowercase()));
        let file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        command.stdout(file.try_clone()?).stderr(file);
        let child = command.spawn().context("starting alleato serve")?;
        let mut side = Self {
            name,
            source: env_file.display().to_string(),
            url: format!("http://{addr}"),
            metrics_url: metrics.map(|m| format!("http://{m}/metrics")),
            adapters: Vec::new(),
            process: Some(child),
            _scratch: scratch,
        };
        side.wait_until_ready(http, Some(&log)).await?;
        Ok(side)
    }

    /// A server already running; metrics are read from `metrics_url` when given.
    pub async fn running(
        http: &reqwest::Client,
        name: &'static str,
        url: &str,
        metrics_url: Option<String>,
    ) -> anyhow::Result<Self> {
        let url = url.trim_end_matches('/').to_owned();
        let mut side =
            Self { name, source: url.clone(), url, metrics_url, adapters: Vec::new(), process: None, _scratch: None };
        side.wait_until_ready(http, None).await?;
        Ok(side)
    }

    /// Waits for `/health`; a server that exits first fails with its `log`.
    async fn wait_until_ready(&mut self, http: &reqwest::Client, log: Option<&Path>) -> anyhow::Result<()> {
        let client = alleato_sdk::Client::with_http(http.clone(), self.url.clone());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = &mut self.process
                && let Some(status) = child.try_wait()?
            {
                let log = log.and_then(|path| std::fs::read_to_string(path).ok()).unwrap_or_default();
                bail!("side {} ({}) exited at start ({status}):\n{}", self.name, self.source, log.trim());
            }
            if let Ok(health) = client.health().await {
                self.adapters = health.adapters;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("side {} ({}) did not answer at {} within 60 s", self.name, self.source, self.url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The backend of a port, as the adapter table names it.
    pub fn backend(&self, port: &str) -> String {
        self.adapters.iter().find(|a| a.port == port).map(|a| a.backend.clone()).unwrap_or_default()
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.take() {
            // SIGTERM first, so the server flushes and ends cleanly; then make sure.
            #[cfg(unix)]
            {
                let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}
