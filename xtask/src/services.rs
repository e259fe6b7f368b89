//! The real services the tests talk to: PostgreSQL on 127.0.0.1:5432 and Redis on
//! 127.0.0.1:6379. Each is used as it is when it answers; otherwise it is started (and, on a
//! machine without it, installed from Debian's packages first).

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Waits until something listens on `port` (`listening`), or nothing does any more.
fn wait_port(port: u16, listening: bool, what: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    while answers(port) != listening {
        if started.elapsed() > Duration::from_secs(30) {
            let state = if listening { "is not listening" } else { "still listens" };
            bail!("{what} {state} on 127.0.0.1:{port} after 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn sh(script: &str) -> anyhow::Result<()> {
    say!("$ {script}");
    let status = Command::new("sh").arg("-c").arg(script).status().context("running sh")?;
    if !status.success() {
        bail!("`{script}` failed ({status})");
    }
    Ok(())
}

fn installed(binary: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {binary} >/dev/null 2>&1 || test -x {binary}"))
        .status()
        .is_ok_and(|s| s.success())
}

pub fn apt_install(packages: &str) -> anyhow::Result<()> {
    sh(&format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {packages}"))
}

pub fn postgres() -> anyhow::Result<()> {
    if answers(5432) {
        return Ok(());
    }
    if !installed("pg_ctlcluster") {
        apt_install("postgresql")?;
        // A new cluster asks for passwords on 127.0.0.1; the tests connect as `postgres`
        // without one, as on the machines that already have a cluster: trust loopback.
        sh(r"sed -i -E 's#^(host\s+all\s+all\s+(127\.0\.0\.1/32|::1/128)\s+)\S+#\1trust#' \
            $(ls -d /etc/postgresql/*/main | sort -V | tail -n 1)/pg_hba.conf")?;
    }
    sh("pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort -V | tail -n 1) main start")?;
    wait_port(5432, true, "PostgreSQL")
}

pub fn redis() -> anyhow::Result<()> {
    if answers(6379) {
        return Ok(());
    }
    if !installed("redis-server") {
        apt_install("redis-server")?;
    }
    sh("mkdir -p /var/lib/redis /var/log/redis && redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
        --save '' --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log")?;
    wait_port(6379, true, "Redis")
}

/// Drops the schemas earlier test runs left behind (each test gets its own), one statement at
/// a time: dropping hundreds in one transaction runs out of lock slots.
pub fn clean_postgres() {
    let list = "SELECT format('DROP SCHEMA %I CASCADE;', nspname) FROM pg_namespace \
                WHERE nspname LIKE 'test\\_%' OR nspname LIKE 'e2e\\_%' OR nspname LIKE 'bench\\_%'";
    let script = "psql -q -h 127.0.0.1 -U postgres -d postgres -Atc \"$LIST\" | psql -q -h 127.0.0.1 -U postgres -d postgres >/dev/null";
    let ok = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("LIST", list)
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        say!("could not drop old test schemas (psql missing or refused); continuing");
    }
}

/// The S3-compatible server the tests use: s3s-fs 0.14.1 (newer versions need a newer rustc),
/// on 127.0.0.1:8014 with keys AKTEST/SKTEST, bucket `alleato-test`. Built once with
/// `cargo install` and kept in cargo's bin directory, so later runs reuse it.
///
/// Started afresh on every run, as the Cloudflare shim is: one an earlier run left behind can
/// answer on its port and still fail every request (seen: its working directory was a clone
/// since deleted, and s3s-fs resolves paths against it).
pub fn s3() -> anyhow::Result<()> {
    if answers(8014) {
        let _ = sh("pkill -f 's3s-fs --host 127[.]0[.]0[.]1 --port 8014'");
        wait_port(8014, false, "an earlier s3s-fs (port 8014 is taken by another program?)")?;
    }
    let home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))
        .context("CARGO_HOME or HOME")?;
    let binary = home.join("bin/s3s-fs");
    if !binary.exists() {
        say!("building s3s-fs 0.14.1 (once per machine, about 2 minutes)");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["install", "s3s-fs@0.14.1", "--features", "binary", "--locked", "--quiet"])
            .status()
            .context("cargo install s3s-fs")?;
        if !status.success() {
            bail!("cargo install s3s-fs@0.14.1 failed ({status})");
        }
    }
    let data = std::env::temp_dir().join("alleato-s3s");
    // A fresh start: nothing of earlier runs is kept.
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(data.join("alleato-test")).context("creating the S3 data directory")?;
    // From `/`: a working directory that no clone's removal can take away.
    sh(&format!(
        "cd / && nohup {} --host 127.0.0.1 --port 8014 --access-key AKTEST --secret-key SKTEST {} > {} 2>&1 &",
        binary.display(),
        data.display(),
        std::env::temp_dir().join("alleato-s3s.log").display()
    ))?;
    wait_port(8014, true, "s3s-fs")
}

/// Cloudflare's D1 and Workers KV REST APIs on 127.0.0.1:8787: the Worker in `tests/cf-shim/`
/// under Miniflare (Cloudflare's own simulator, pinned in that folder's lockfile), installed
/// with `npm ci`. Node and npm come from the system (Debian's `nodejs` and `npm`). Started
/// afresh on every run (a second or two): its pool of D1 databases is handed out one per test
/// server, and it holds everything in memory.
pub fn cloudflare_shim() -> anyhow::Result<()> {
    if answers(8787) {
        let _ = sh("pkill -f 'node run-shim[.]mjs'");
        wait_port(8787, false, "an earlier Cloudflare shim (port 8787 is taken by another program?)")?;
    }
    if !installed("node") || !installed("npm") {
        sh(
            "apt-get install -y -qq nodejs npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)",
        )?;
    }
    let shim = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cf-shim");
    if !shim.join("node_modules/miniflare").exists() {
        say!("installing Miniflare for the Cloudflare shim (npm ci, about 165 MB)");
        sh(&format!("cd {} && npm ci --no-audit --no-fund --loglevel=error", shim.display()))?;
    }
    sh(&format!(
        "cd {} && PORT=8787 nohup node run-shim.mjs > {} 2>&1 &",
        shim.display(),
        std::env::temp_dir().join("alleato-cf-shim.log").display()
    ))?;
    wait_port(8787, true, "the Cloudflare shim (Miniflare)")
}

/// Debian's chromium, for the browser tests (nothing downloads a browser build of its own).
pub fn chromium() -> anyhow::Result<()> {
    if installed("/usr/bin/chromium") {
        return Ok(());
    }
    apt_install("--no-install-recommends chromium")
}
