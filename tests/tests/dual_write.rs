//! A live switch with dual-write, through the real binary: an embedded deployment (sessions in
//! Redis) writes to a traditional secondary (PostgreSQL + S3) while `alleato migrate` backfills
//! it under a steady workload; the primary is flipped with a restart; every request succeeds,
//! and `verify` finds the two sides identical, before and after the flip.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use alleato_core::ids::{ChatId, FileId};
use alleato_e2e::alleato_sdk::Client;
use alleato_e2e::alleato_sdk::api::{SaveDocumentRequest, UpdateChatRequest, VoteType};
use alleato_e2e::deployments::{PASSWORD, embedded, env_file, fill, migrate, serve, table, traditional};
use alleato_e2e::process::ServerProcess;
use alleato_e2e::{PNG, collect, uuid_like};

const ADMIN_KEY: &str = "dual-write-admin-key";

/// What every request of the workload did.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    failures: AtomicU64,
}

impl Tally {
    fn count<T, E: std::fmt::Debug>(&self, what: &str, result: Result<T, E>) -> Option<T> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("workload: {what} failed: {err:?}");
                None
            }
        }
    }
}

/// One client's steady work: a new chat answered, a message in an older chat (which the
/// secondary may not hold yet), a vote, a rename, an upload, a document version, and now and
/// then a deleted file or chat. Runs until `stop`, at least `min_rounds` rounds.
async fn work(
    user: Client,
    old_chat: ChatId,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    min_rounds: u64,
    rounds: Arc<AtomicU64>,
) {
    let mut files: Vec<FileId> = Vec::new();
    let mut done = 0;
    while done < min_rounds || !stop.load(Ordering::Relaxed) {
        let chat = ChatId::new();
        if let Some(stream) = tally.count("send", user.send_text(chat, &format!("round {done}")).await) {
            collect(stream).await;
        }
        if let Some(stream) = tally.count("send to an older chat", user.send_text(old_chat, "and again").await) {
            collect(stream).await;
        }
        if let Some(whole) = tally.count("get chat", user.get_chat(chat).await) {
            tally.count("vote", user.vote(chat, whole.messages[1].id, VoteType::Up).await);
        }
        let rename = UpdateChatRequest { title: Some(format!("renamed {done}")), visibility: None };
        tally.count("rename", user.update_chat(chat, &rename).await);
        if let Some(file) = tally.count("upload", user.upload_file("cat.png", "image/png", PNG, Some(chat)).await) {
            files.push(file.id);
        }
        let document = SaveDocumentRequest {
            id: None,
            title: format!("notes {done}"),
            kind: Default::default(),
            content: "a draft".into(),
        };
        tally.count("save document", user.save_document(&document).await);
        if done % 3 == 2 {
            tally.count("delete file", user.delete_file(files.remove(0)).await);
        }
        if done % 4 == 3 {
            tally.count("delete chat", user.delete_chat(chat).await);
        }
        done += 1;
        rounds.fetch_add(1, Ordering::Relaxed);
    }
}

/// A workload of one client per account (signed in with `tokens`), running until `stop`.
struct Workload {
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workload {
    fn start(server: &ServerProcess, accounts: &[(String, ChatId)], min_rounds: u64) -> Self {
        let (tally, stop, rounds) = (Arc::new(Tally::default()), Arc::new(AtomicBool::new(false)), Arc::default());
        let tasks = accounts
            .iter()
            .map(|(token, chat)| {
                let user = Client::new(server.base_url()).with_token(token);
                tokio::spawn(work(user, *chat, tally.clone(), stop.clone(), min_rounds, Arc::clone(&rounds)))
            })
            .collect();
        Self { tally, stop, rounds, tasks }
    }

    /// Stops it; every round finished (every answer stored). Returns the requests it made.
    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let (requests, failures) =
            (self.tally.requests.load(Ordering::Relaxed), self.tally.failures.load(Ordering::Relaxed));
        assert_eq!(failures, 0, "every request succeeds ({failures} of {requests} failed)");
        requests
    }
}

/// A side's env with dual-write to `secondary`, its repair log at `log`, every read shadowed.
fn dual_writing(env: &[(String, String)], secondary: &Path, log: &Path) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.extend([
        ("DUAL_WRITE_SECONDARY".into(), secondary.display().to_string()),
        ("DUAL_WRITE_REPAIR_LOG".into(), log.display().to_string()),
        ("DUAL_WRITE_SHADOW_READS".into(), "1".into()),
        ("ADMIN_API_KEY".into(), ADMIN_KEY.into()),
        ("ALLEATO_CHAT__REGULAR_MESSAGES_PER_DAY".into(), "100000".into()),
    ]);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_switch_with_dual_write_loses_nothing_and_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let (home, away) = (dir.path().join("home"), dir.path().join("away"));
    // Sessions stay in one Redis throughout: the switch moves the database and uploads.
    let redis = [
        ("REDIS_URL".to_owned(), alleato_e2e::redis_url()),
        ("ALLEATO_REDIS__PREFIX".to_owned(), format!("e2e:dual_{}:", uuid_like())),
    ];
    let home_env: Vec<_> = embedded(&home).into_iter().chain(redis.clone()).collect();
    let away_env: Vec<_> = traditional(&away).into_iter().chain(redis).collect();
    let home_file = env_file(dir.path(), "home.env", &home_env);
    let away_file = env_file(dir.path(), "away.env", &away_env);
    let (home_log, away_log) = (dir.path().join("home-repairs.jsonl"), dir.path().join("away-repairs.jsonl"));

    // Before: an embedded deployment with history.
    let mut limits = home_env.clone();
    limits.push(("ALLEATO_CHAT__REGULAR_MESSAGES_PER_DAY".into(), "100000".into()));
    let server = serve(&home, &limits).await;
    fill(&server.base_url()).await;
    let client = Client::new(server.base_url());
    let mut accounts = Vec::new();
    for n in 0..3 {
        let session = client.register(&format!("dual-{n}-{}@example.com", uuid_like()), PASSWORD).await.unwrap();
        let chat = ChatId::new();
        collect(client.with_token(&session.token).send_text(chat, "before the switch").await.unwrap()).await;
        accounts.push((session.token, chat));
    }
    drop(server);

    // Dual-write on (a restart), the backfill under a steady workload.
    let server = serve(&home, &dual_writing(&home_env, &away_file, &home_log)).await;
    let health = Client::new(server.base_url()).health().await.unwrap();
    assert!(health.adapters.iter().any(|a| a.port == "database (secondary)" && a.backend.starts_with("postgres")));
    let workload = Workload::start(&server, &accounts, 2);
    while workload.rounds.load(Ordering::Relaxed) < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let copy = ["copy", "--from", home_file.to_str().unwrap(), "--to", away_file.to_str().unwrap()];
    let repair = ["--repair", home_log.to_str().unwrap()];
    let args: Vec<String> = [&copy[..], &repair[..]].concat().into_iter().map(str::to_owned).collect();
    let backfill = tokio::task::spawn_blocking(move || migrate(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    let (_, summary) = backfill.await.unwrap();
    assert!(table(&summary, "messages")["copied"].as_u64().unwrap() > 0, "{summary:#}");
    let during = workload.finish().await;
    // Writes to the older chats, which the secondary lacked until the backfill, were recorded.
    let log = std::fs::read_to_string(&home_log).unwrap();
    let failed: Vec<alleato_core::dual::RepairEntry> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|e: &alleato_core::dual::RepairEntry| e.error.is_some())
        .collect();
    assert!(failed.iter().any(|e| e.operation == "begin_generation"), "{log}");
    // Quiet now: one more pass repairs what raced with the backfill; then both sides agree.
    let (code, summary) = migrate(&[&copy[..], &repair[..]].concat());
    assert_eq!(code, 0, "{summary:#}");
    assert!(summary["repair_entries"].as_u64().unwrap() >= failed.len() as u64, "{summary:#}");
    let verify = ["verify", "--from", home_file.to_str().unwrap(), "--to", away_file.to_str().unwrap()];
    let (code, verified) = migrate(&verify);
    assert_eq!(code, 0, "{verified:#}");
    drop(server);

    // The flip: the traditional stack is primary, the embedded one its secondary for rollback.
    // The same sessions go on working (they are in Redis).
    let server = serve(&away, &dual_writing(&away_env, &home_file, &away_log)).await;
    let workload = Workload::start(&server, &accounts, 3);
    let after = workload.finish().await;
    let stats = Client::new(server.base_url()).admin_stats(ADMIN_KEY).await.unwrap();
    let dual = stats.dual_write.expect("dual-write's counts");
    assert!(dual.secondary_writes > 0 && dual.shadow_reads > 0, "{dual:?}");
    assert_eq!(dual.secondary_failures, 0, "the old primary holds everything the new one writes to: {dual:?}");
    drop(server);
    let back = ["verify", "--from", away_file.to_str().unwrap(), "--to", home_file.to_str().unwrap()];
    let (code, verified) = migrate(&back);
    assert_eq!(code, 0, "rollback stays possible: {verified:#}");
    eprintln!("dual-write: {during} requests during the backfill, {after} after the flip, none failed; {dual:?}");
}

/// `copy --repair`: what a repair log names is made equal to the source (overwritten, or
/// deleted from the target with what goes with it); a difference it does not name is reported
/// and left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_log_overwrites_and_deletes_only_what_it_names() {
    use alleato_core::dual::{RepairEntry, Scope};
    let dir = tempfile::tempdir().unwrap();
    let (home, away) = (dir.path().join("home"), dir.path().join("away"));
    let home_env = embedded(&home);
    let home_file = env_file(dir.path(), "home.env", &home_env);
    let away_file = env_file(dir.path(), "away.env", &traditional(&away));
    let server = serve(&home, &home_env).await;
    let client = Client::new(server.base_url());
    let user =
        client.with_token(&client.register(&format!("r-{}@example.com", uuid_like()), PASSWORD).await.unwrap().token);
    let chats = [ChatId::new(), ChatId::new(), ChatId::new()];
    for chat in chats {
        collect(user.send_text(chat, "hello").await.unwrap()).await;
    }
    drop(server);
    let copy = ["copy", "--from", home_file.to_str().unwrap(), "--to", away_file.to_str().unwrap()];
    assert_eq!(migrate(&copy).0, 0);

    // Behind the copy's back, as writes the secondary missed: one chat renamed, one deleted,
    // and a third renamed that no log names.
    let config = alleato_server::Config::from_env_file(&home_file).unwrap();
    let source = alleato_server::wiring::open_database(&config).await.unwrap();
    let [renamed, deleted, unnamed] = chats;
    for id in [renamed, unnamed] {
        let chat = source.chats.chat(id).await.unwrap().unwrap();
        source.chats.update_chat(&alleato_core::model::Chat { title: "renamed".into(), ..chat }).await.unwrap();
    }
    source.chats.delete_chat(deleted).await.unwrap();
    drop(source);
    let log = dir.path().join("repairs.jsonl");
    let entries: String = [(renamed, "update_chat"), (deleted, "delete_chat")]
        .into_iter()
        .map(|(chat, operation)| {
            let entry = RepairEntry {
                at: alleato_core::time::now(),
                operation: operation.into(),
                scopes: vec![Scope::Chat(chat)],
                error: Some("the secondary was down".into()),
            };
            serde_json::to_string(&entry).unwrap() + "\n"
        })
        .collect();
    std::fs::write(&log, entries).unwrap();

    let (code, summary) = migrate(&[&copy[..], &["--repair", log.to_str().unwrap()]].concat());
    assert_eq!(code, 1, "the unnamed difference remains: {summary:#}");
    let chats_line = table(&summary, "chats");
    assert_eq!((chats_line["repaired"].as_u64(), chats_line["differing"].as_u64()), (Some(2), Some(1)), "{summary:#}");
    assert!(chats_line["examples"].to_string().contains(&unnamed.to_string()), "{summary:#}");
    assert_eq!(summary["repair_entries"], 2);
    let (_, verified) =
        migrate(&["verify", "--from", home_file.to_str().unwrap(), "--to", away_file.to_str().unwrap()]);
    let (chats_line, messages) = (table(&verified, "chats"), table(&verified, "messages"));
    assert_eq!(
        (chats_line["differing"].as_u64(), chats_line["only_in_target"].as_u64()),
        (Some(1), Some(0)),
        "{verified:#}"
    );
    assert_eq!(messages["only_in_target"], 0, "the deleted chat's messages went with it: {verified:#}");
}
