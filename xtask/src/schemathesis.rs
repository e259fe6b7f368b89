//! The OpenAPI document must describe the server: schemathesis (pinned, installed into a venv
//! under the target directory) runs over the whole document against the `alleato` binary on the
//! embedded stack, once anonymous and once signed in. Each run counts as one test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Pinned: a newer schemathesis brings new checks, which deserve their own change.
const VERSION: &str = "4.32.5";
/// Test cases per operation and phase. 20 (about a minute per run) missed disagreements that
/// a longer run found; ALLEATO_ST_MAX_EXAMPLES sets another for a deeper look.
const MAX_EXAMPLES: &str = "300";
/// Fixed, so a failure reproduces; `ALLEATO_ST_SEED` picks another.
const DEFAULT_SEED: &str = "1";
/// A run that takes longer than this is stopped and counted as failed.
const RUN_LIMIT: Duration = Duration::from_secs(900);

/// Runs both passes; returns (passed, failed) runs. An error means schemathesis could not run.
pub fn run(target: &Path) -> anyhow::Result<(u64, u64)> {
    let st = install(target)?;
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis");
    let reports = target.join("schemathesis");
    std::fs::create_dir_all(&reports).context("creating the schemathesis report directory")?;
    let admin_key = format!("st-admin-{}", std::process::id());
    let server = Server::start(&target.join("debug/alleato"), &reports, &admin_key)?;
    let base = format!("http://{}", server.addr);
    let seed = std::env::var("ALLEATO_ST_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let examples = std::env::var("ALLEATO_ST_MAX_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.into());
    let (mut passed, mut failed) = (0, 0);
    for (name, signed_in) in [("anonymous", false), ("signed-in", true)] {
        say!("schemathesis {VERSION}, {name}, over {base}/api/v1/openapi.json (seed {seed}, {examples} examples)");
        let mut command = Command::new(&st);
        command
            .arg("--config-file")
            .arg(config.join("schemathesis.toml"))
            .args(["run", &format!("{base}/api/v1/openapi.json"), "--checks", "all"])
            .args(["--max-examples", &examples, "--seed", &seed, "--request-timeout", "10", "--no-color"])
            .args(["--report", "junit", "--report-junit-path"])
            .arg(reports.join(format!("{name}.xml")))
            .env("SCHEMATHESIS_HOOKS", config.join("hooks.py"))
            // Its example database (`.schemathesis/`) goes under the target directory.
            .current_dir(&reports);
        if signed_in {
            command.env("ALLEATO_ST_BASE_URL", &base).env("ALLEATO_ST_ADMIN_KEY", &admin_key);
        }
        let mut child = command.spawn().context("running schemathesis")?;
        let watchdog = crate::watchdog::arm(child.id(), RUN_LIMIT, format!("schemathesis ({name})"));
        let finished = child.wait().context("waiting for schemathesis")?.success();
        drop(watchdog);
        if finished {
            passed += 1;
        } else {
            say!("schemathesis ({name}) found failures; the server log is {}", server.log.display());
            failed += 1;
        }
    }
    Ok((passed, failed))
}

/// `st` from a venv under the target directory, created (or replaced) when it is missing or
/// holds another version.
fn install(target: &Path) -> anyhow::Result<PathBuf> {
    let venv = target.join("schemathesis-venv");
    let st = venv.join("bin/st");
    let version = Command::new(&st).arg("--version").output().ok().filter(|o| o.status.success());
    if version.is_some_and(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().any(|w| w == VERSION)) {
        return Ok(st);
    }
    say!("installing schemathesis {VERSION} into {}", venv.display());
    let _ = std::fs::remove_dir_all(&venv);
    let created = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success());
    if !created {
        // Debian ships the venv module apart from python3.
        let _ = std::fs::remove_dir_all(&venv);
        crate::services::apt_install("python3-venv")?;
        let status = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().context("python3 -m venv")?;
        if !status.success() {
            bail!("python3 -m venv {} failed ({status})", venv.display());
        }
    }
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", &format!("schemathesis=={VERSION}")])
        .status()
        .context("pip install schemathesis")?;
    if !status.success() {
        bail!("pip install schemathesis=={VERSION} failed ({status})");
    }
    Ok(st)
}

/// The `alleato` binary on the embedded stack in a fresh data directory, on a free port, with
/// rate limiting off (schemathesis sends thousands of requests from one address) and the
/// deterministic mock model without pauses. Stopped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    data: PathBuf,
    log: PathBuf,
}

impl Server {
    fn start(binary: &Path, dir: &Path, admin_key: &str) -> anyhow::Result<Self> {
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let data = dir.join("data");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).context("creating the server's data directory")?;
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).context("creating the server log")?;
        // Only what is given here: whatever the calling environment selects (a database, a key
        // prefix, any ALLEATO_* setting), this server is the embedded default.
        let mut command = Command::new(binary);
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        let child = command
            .env("ALLEATO_ADDR", addr.to_string())
            .env("ALLEATO_DATA_DIR", &data)
            .env("ALLEATO_CONFIG", "/nonexistent/alleato-schemathesis.toml")
            .env("RATE_LIMIT_ENABLED", "false")
            .env("ADMIN_API_KEY", admin_key)
            .env("AI_PROVIDER", "mock")
            .env("AI_MOCK_CHUNK_DELAY_MS", "0")
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self { child, addr, data, log };
        let started = Instant::now();
        while !server.answers() {
            if let Some(status) = server.child.try_wait()? {
                bail!("alleato exited ({status}) before answering; see {}", server.log.display());
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("alleato did not answer on {addr} within 30 s; see {}", server.log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_millis(300)) else {
            return false;
        };
        let mut reply = String::new();
        stream.set_read_timeout(Some(Duration::from_secs(2))).is_ok()
            && stream.write_all(b"GET /ping HTTP/1.0\r\n\r\n").is_ok()
            && stream.read_to_string(&mut reply).is_ok()
            && reply.split_whitespace().nth(1) == Some("200")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
