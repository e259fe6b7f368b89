//! Outages: PostgreSQL, Redis and the S3 server stopped while the server runs. Requests during
//! the outage get a 503 `{code, message}` within a bounded time, `/ready` names what is down,
//! uploads leave nothing half-stored, and the server recovers by itself when the service
//! returns. Each test runs its own private service (a fresh PostgreSQL cluster, Redis or
//! s3s-fs on a free port), so stopping it disturbs no other test.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alleato_e2e::outage::{assert_unavailable, ready_reports_down, recovers};
use alleato_e2e::process::free_port;
use alleato_e2e::{PNG, TestApp, test_config};
use alleato_server::config::Secret;

/// What an outage's message must not show.
const PRIVATE: &[&str] = &["postgres", "redis://"];

fn wait_port(port: u16, up: bool) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() != up {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "port {port} never became {}",
            if up { "open" } else { "closed" }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("run");
    assert!(status.success(), "{cmd:?} failed");
}

/// A throwaway PostgreSQL cluster in a temp dir, run as the `postgres` user.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
}

impl PrivatePostgres {
    fn new() -> Self {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL installed")
            .map(|e| e.unwrap().path())
            .collect();
        versions.sort();
        let bin = versions.last().unwrap().join("bin");
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("chown").arg("postgres").arg(dir.path()));
        let pg = Self { port: free_port(), bin, dir };
        pg.as_postgres(&format!(
            "{} -D {} -A trust -U postgres > /dev/null",
            pg.bin.join("initdb").display(),
            pg.data().display()
        ));
        pg.start();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, script: &str) {
        run(Command::new("su").args(["postgres", "-c", script]).stdout(Stdio::null()));
    }

    fn start(&self) {
        self.as_postgres(&format!(
            "{} -D {} -w -l {}/log -o '-p {} -k {} -c listen_addresses=127.0.0.1' start",
            self.bin.join("pg_ctl").display(),
            self.data().display(),
            self.dir.path().display(),
            self.port,
            self.dir.path().display()
        ));
        wait_port(self.port, true);
    }

    fn stop(&self) {
        self.as_postgres(&format!(
            "{} -D {} -w -m immediate stop",
            self.bin.join("pg_ctl").display(),
            self.data().display()
        ));
        wait_port(self.port, false);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("su")
            .args([
                "postgres",
                "-c",
                &format!("{} -D {} -m immediate stop", self.bin.join("pg_ctl").display(), self.data().display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A process on a port of its own, restartable with the same arguments.
struct PrivateProcess {
    program: PathBuf,
    args: Vec<String>,
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl PrivateProcess {
    fn start(&mut self) {
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        self.child = Some(child);
        wait_port(self.port, true);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        wait_port(self.port, false);
    }

    /// Redis with an append-only file, so sessions survive its restart as they would in
    /// production with persistence on.
    fn redis() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let args = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--dir"]
            .iter()
            .map(|s| s.to_string())
            .chain([dir.path().display().to_string()])
            .collect();
        let mut redis = Self { program: "redis-server".into(), args, port, child: None, _dir: dir };
        redis.start();
        redis
    }

    fn s3() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("alleato-test")).unwrap();
        let port = free_port();
        let home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()));
        let program = Path::new(&home).join("bin/s3s-fs");
        let args =
            ["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", "AKTEST", "--secret-key", "SKTEST"]
                .iter()
                .map(|s| s.to_string())
                .chain([dir.path().display().to_string()])
                .collect();
        let mut s3 = Self { program, args, port, child: None, _dir: dir };
        s3.start();
        s3
    }
}

impl Drop for PrivateProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn a_postgres_outage_is_a_prompt_503_and_the_server_recovers() {
    let pg = PrivatePostgres::new();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.database.url = Some(Secret::new(pg.url()));
    config.database.schema = None;
    config.database.acquire_timeout_secs = 2;
    config.redis.url = None;
    config.storage.s3_bucket = None;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let chat = ada.create_chat(&Default::default()).await.unwrap();

    pg.stop();
    assert_unavailable(ada.list_chats(&Default::default()), "unavailable:database", Duration::from_secs(8), PRIVATE)
        .await;
    assert_unavailable(
        app.client.register("late@example.com", "correct horse battery"),
        "unavailable:database",
        Duration::from_secs(8),
        PRIVATE,
    )
    .await;
    ready_reports_down(&app, &["database"]).await;

    pg.start();
    let page = alleato_sdk::ListChats::default();
    let chats = recovers(&[503, 401], || ada.list_chats(&page)).await;
    assert_eq!(chats.chats[0].id, chat.id, "the data is all there");
    assert!(app.client.ready().await.unwrap().ready);
}

#[tokio::test]
async fn a_redis_outage_is_a_prompt_503_and_the_server_recovers() {
    let mut redis = PrivateProcess::redis();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.database.url = None;
    config.storage.s3_bucket = None;
    config.redis.url = Some(Secret::new(format!("redis://127.0.0.1:{}", redis.port)));
    config.redis.prefix = "faults:".into();
    config.redis.command_timeout_ms = 1000;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, session) = app.user().await;

    redis.stop();
    // Sessions are served from memory while Redis pub/sub tells of changes: the feed notices
    // the connection's end within moments (its ping is once a second), and from then on
    // nothing is served from memory. A session read in those moments is still answered.
    let noticed = std::time::Instant::now();
    while ada.me().await.is_ok() {
        assert!(noticed.elapsed() < Duration::from_secs(2), "sessions still served from memory 2 s into the outage");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_unavailable(ada.me(), "unavailable:kv", Duration::from_secs(5), PRIVATE).await;
    ready_reports_down(&app, &["key-value", "counters", "streams"]).await;

    redis.start();
    let me = recovers(&[503, 401], || ada.me()).await;
    assert_eq!(me.id, session.user.id, "the same session, without a server restart");
}

#[tokio::test]
async fn an_s3_outage_is_a_prompt_503_and_leaves_nothing_half_stored() {
    let mut s3 = PrivateProcess::s3();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.database.url = None;
    config.redis.url = None;
    config.storage.s3_bucket = Some("alleato-test".into());
    config.storage.s3_endpoint = Some(format!("http://127.0.0.1:{}", s3.port));
    config.storage.s3_region = "auto".into();
    config.storage.s3_access_key_id = Some(Secret::new("AKTEST"));
    config.storage.s3_secret_access_key = Some(Secret::new("SKTEST"));
    config.storage.s3_prefix = None;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let kept = ada.upload_file("kept.png", "image/png", PNG, None).await.unwrap();
    let before = app.client.admin_stats("test-admin-key").await.unwrap().files;

    s3.stop();
    assert_unavailable(
        ada.upload_file("lost.png", "image/png", PNG, None),
        "unavailable:storage",
        Duration::from_secs(15),
        PRIVATE,
    )
    .await;
    assert_eq!(app.client.admin_stats("test-admin-key").await.unwrap().files, before, "no metadata without bytes");
    ready_reports_down(&app, &["storage"]).await;

    s3.start();
    recovers(&[503, 401], || ada.upload_file("after.png", "image/png", PNG, None)).await;
    assert_eq!(&ada.file_content(kept.id).await.unwrap().1[..], PNG);
    assert_eq!(app.client.admin_stats("test-admin-key").await.unwrap().files, before + 1);
}
