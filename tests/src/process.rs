//! The real `alleato` binary as a separate OS process, configured only by its environment, as an
//! operator runs it: for the multi-instance tests and the benchmark.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The debug `alleato` binary beside the running test (`target/debug/alleato`), or the one
/// `ALLEATO_BIN` names. `cargo xtask test` builds it before the tests run.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ALLEATO_BIN") {
        return path.into();
    }
    // A test runs as target/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let binary = profile_dir.join("alleato");
    assert!(
        binary.exists(),
        "{} is missing: build it first (`cargo build -p alleato-cli --bin alleato`; `cargo xtask test` does)",
        binary.display()
    );
    binary
}

/// The environment that puts a server process on the traditional stack of the local test
/// services (PostgreSQL, Redis, s3s-fs), in a schema, key prefix and bucket prefix named after
/// `run` (`<kind>_<run>`, e.g. `e2e_…`, which `cargo xtask test` drops at its next start).
pub fn traditional_env(kind: &str, run: &str) -> Vec<(String, String)> {
    vec![
        ("DATABASE_URL".into(), crate::postgres_url()),
        ("ALLEATO_DATABASE__SCHEMA".into(), format!("{kind}_{run}")),
        ("REDIS_URL".into(), crate::redis_url()),
        ("ALLEATO_REDIS__PREFIX".into(), format!("{kind}:{run}:")),
        ("S3_BUCKET".into(), "alleato-test".into()),
        ("S3_ENDPOINT".into(), crate::s3_endpoint()),
        ("S3_REGION".into(), "auto".into()),
        ("AWS_ACCESS_KEY_ID".into(), "AKTEST".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "SKTEST".into()),
        ("ALLEATO_STORAGE__S3_PREFIX".into(), format!("{kind}-{run}")),
    ]
}

/// The environment that puts a server process (or a `migrate` side) on the Cloudflare stack
/// of the local test services: D1 (a database of its own, named after `run`) and Workers KV
/// through Cloudflare's simulator, R2 through s3s-fs with R2's settings.
pub fn cloudflare_env(kind: &str, run: &str) -> Vec<(String, String)> {
    [
        ("USE_CLOUDFLARE", "true".to_owned()),
        ("CLOUDFLARE_API_BASE_URL", crate::cf_url()),
        ("CLOUDFLARE_ACCOUNT_ID", format!("{kind}-account")),
        ("CLOUDFLARE_API_TOKEN", format!("{kind}-token")),
        ("CLOUDFLARE_D1_DATABASE_ID", format!("{kind}-{run}")),
        ("CLOUDFLARE_KV_NAMESPACE_ID", kind.to_owned()),
        // The simulator has no account-wide limit; a benchmark would spend 1,200 in a second.
        ("ALLEATO_CLOUDFLARE__API_REQUESTS_PER_5_MINUTES", "1000000000".to_owned()),
        ("R2_BUCKET", "alleato-test".to_owned()),
        ("R2_ENDPOINT", crate::s3_endpoint()),
        ("R2_ACCESS_KEY_ID", "AKTEST".to_owned()),
        ("R2_SECRET_ACCESS_KEY", "SKTEST".to_owned()),
        ("ALLEATO_STORAGE__S3_PREFIX", format!("{kind}-{run}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A port nothing listens on now (the kernel's pick; it may be taken again before use).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl ServerProcess {
    /// Starts `binary` over `data_dir` with only `env` (plus `PATH`, an address and a missing
    /// config file, so nothing from the machine leaks in) and waits until `/ready` answers 200.
    /// Returns the process and how long that took.
    pub async fn start<K, V>(
        binary: &Path,
        data_dir: &Path,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> (ServerProcess, Duration)
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let env: Vec<(K, V)> = env.into_iter().collect();
        // The port is free when picked but could be taken before the child binds it: then the
        // child exits at once, and it is started again on another port.
        for _ in 0..3 {
            if let Some(started) = Self::try_start(binary, data_dir, &env).await {
                return started;
            }
        }
        panic!("the server could not start on a free port three times");
    }

    async fn try_start<K, V>(binary: &Path, data_dir: &Path, env: &[(K, V)]) -> Option<(ServerProcess, Duration)>
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let addr = format!("127.0.0.1:{}", free_port());
        let began = Instant::now();
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ALLEATO_ADDR", &addr)
            .env("ALLEATO_DATA_DIR", data_dir)
            .env("ALLEATO_CONFIG", "/nonexistent/alleato-test.toml")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut server = ServerProcess { child, addr };
        let http = reqwest::Client::new();
        let url = format!("http://{}/ready", server.addr);
        loop {
            if server.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            if let Ok(r) = http.get(&url).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(began.elapsed() < Duration::from_secs(30), "server not ready after 30 s");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let ready = began.elapsed();
        // Another process answering on the port would mean this one failed to bind: it exits
        // within moments of starting.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if server.child.try_wait().ok().flatten().is_some() {
            return None;
        }
        Some((server, ready))
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process's resident memory, in KiB (0 if it cannot be read).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the process has had since it started, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Runs `command` to its end and collects what it printed, as [`Command::output`] does, but for
/// at most `limit`: past it the command and everything it started (its own process group) are
/// killed, and the test fails with what it had printed, so a hang costs the test its limit
/// instead of stalling the whole test run.
pub fn output_within(command: &mut Command, limit: Duration) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut child =
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).spawn().expect("the command starts");
    // Both pipes are read while the command runs: a full pipe would block it.
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the command's status") {
            break status;
        }
        if began.elapsed() > limit {
            let _ = Command::new("kill").args(["-KILL", "--"]).arg(format!("-{}", child.id())).status();
            let _ = child.wait();
            let printed = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
            panic!("{command:?} was still running after {limit:?}; killed. It printed:\n{printed}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    std::process::Output { status, stdout, stderr }
}

/// Reads `pipe` to its end on a thread of its own.
fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_past_its_limit_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 60 & echo $! > {}; echo started >&2; wait", pid_file.display());
        let began = Instant::now();
        let outcome = std::panic::catch_unwind(|| {
            output_within(Command::new("sh").args(["-c", &script]), Duration::from_millis(500))
        });
        let message = *outcome.expect_err("a command past its limit fails the test").downcast::<String>().unwrap();
        assert!(message.contains("still running") && message.contains("started"), "{message}");
        assert!(began.elapsed() < Duration::from_secs(10));
        let sleeper = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
        let gone = || {
            std::fs::read_to_string(format!("/proc/{sleeper}/stat"))
                .map_or(true, |stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        };
        while !gone() && began.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(), "the command's own child was killed with it");
    }

    #[test]
    fn a_command_that_ends_in_time_gives_its_output() {
        let output = output_within(Command::new("sh").args(["-c", "echo out; echo err >&2"]), Duration::from_secs(30));
        assert!(output.status.success());
        assert_eq!((output.stdout.as_slice(), output.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    }
}
