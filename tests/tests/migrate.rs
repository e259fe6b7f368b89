//! `alleato migrate` through the real binary: the embedded stack filled through the API, copied
//! to the traditional one (PostgreSQL + S3) and served from there, then copied back; a copy
//! killed midway and run again; differences injected for `verify` to find.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alleato_core::ids::ChatId;
use alleato_e2e::alleato_sdk::api::{SaveDocumentRequest, SuggestionInput, VoteType};
use alleato_e2e::alleato_sdk::{Client, ListChats};
use alleato_e2e::process::{ServerProcess, server_binary, traditional_env};
use alleato_e2e::{PDF, PNG, collect, uuid_like};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";
const SECRET: &str = "migrate-test-secret-0123456789abcdef";

/// An embedded deployment in `dir`, as its env file says.
fn embedded(dir: &Path) -> Vec<(String, String)> {
    vec![("ALLEATO_DATA_DIR".into(), dir.display().to_string()), ("JWT_SECRET".into(), SECRET.into())]
}

/// A traditional deployment of its own schema and bucket prefix; `dir` holds its local bits.
fn traditional(dir: &Path) -> Vec<(String, String)> {
    let mut env = traditional_env("e2e", &format!("migrate_{}", uuid_like()));
    env.retain(|(k, _)| !k.starts_with("REDIS") && !k.starts_with("ALLEATO_REDIS"));
    env.push(("ALLEATO_DATA_DIR".into(), dir.display().to_string()));
    env.push(("JWT_SECRET".into(), SECRET.into()));
    env
}

fn env_file(dir: &Path, name: &str, vars: &[(String, String)]) -> PathBuf {
    let path = dir.join(name);
    let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn migrate_command(args: &[&str]) -> Command {
    let mut command = Command::new(server_binary());
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).arg("migrate").args(args);
    command
}

/// Runs `alleato migrate …`; its exit code and its summary (JSON).
fn migrate(args: &[&str]) -> (i32, Value) {
    let Output { status, stdout, stderr } = migrate_command(&[args, &["--json"]].concat()).output().unwrap();
    let summary = serde_json::from_slice(&stdout).unwrap_or_else(|_| {
        panic!("no summary from {args:?}: {}\n{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr))
    });
    (status.code().unwrap_or(-1), summary)
}

async fn serve(data: &Path, env: &[(String, String)]) -> ServerProcess {
    let mut env = env.to_vec();
    env.retain(|(k, _)| k != "ALLEATO_DATA_DIR");
    env.extend([("AI_MOCK_CHUNK_DELAY_MS".into(), "0".into()), ("RATE_LIMIT_ENABLED".into(), "false".into())]);
    ServerProcess::start(&server_binary(), data, env).await.0
}

/// What a deployment holds for one account, read through the API after signing in.
async fn seen_by(base: &str, email: &str, files: &[alleato_core::ids::FileId]) -> Value {
    let client = Client::new(base.to_owned());
    let session = client.login(email, PASSWORD).await.expect("the same password signs in");
    let user = client.with_token(&session.token);
    let mut chats = Vec::new();
    for chat in user.list_chats(&ListChats { limit: Some(100), ..ListChats::default() }).await.unwrap().chats {
        let whole = user.get_chat(chat.id).await.unwrap();
        chats.push(serde_json::json!({ "chat": whole, "votes": user.votes(chat.id).await.unwrap() }));
    }
    let mut documents = Vec::new();
    for document in user.documents().await.unwrap() {
        let versions = user.document_versions(document.id).await.unwrap();
        documents.push(
            serde_json::json!({ "versions": versions, "suggestions": user.suggestions(document.id).await.unwrap() }),
        );
    }
    let mut stored = Vec::new();
    for id in files {
        let mut file = serde_json::to_value(user.file(*id).await.unwrap()).unwrap();
        // Where the bytes are fetched from is the backend's (S3 signs URLs); what they are is not.
        file.as_object_mut().unwrap().retain(|k, _| k != "url" && !k.starts_with("downloadUrl"));
        let (content_type, bytes) = user.file_content(*id).await.unwrap();
        stored.push(serde_json::json!({ "file": file, "contentType": content_type, "bytes": bytes.to_vec() }));
    }
    serde_json::json!({ "me": user.me().await.unwrap(), "chats": chats, "documents": documents, "files": stored })
}

/// Two users with a long chat, votes, versioned documents with suggestions and files of three
/// types, a third with a short chat, and a guest: every table gets rows.
async fn fill(base: &str) -> Vec<(String, Vec<alleato_core::ids::FileId>)> {
    let client = Client::new(base.to_owned());
    let mut accounts = Vec::new();
    for n in 0..3 {
        let email = format!("migrate-{n}-{}@example.com", uuid_like());
        let user = client.with_token(&client.register(&email, PASSWORD).await.unwrap().token);
        let chat = ChatId::new();
        let turns = if n == 2 { 1 } else { 20 };
        for turn in 0..turns {
            collect(user.send_text(chat, &format!("question {turn} from user {n}: ünïcödé \"quoted\"")).await.unwrap())
                .await;
        }
        let messages = user.get_chat(chat).await.unwrap().messages;
        user.vote(chat, messages[1].id, VoteType::Up).await.unwrap();
        if messages.len() > 3 {
            user.vote(chat, messages[3].id, VoteType::Down).await.unwrap();
        }
        let save = |id, content: &str| SaveDocumentRequest {
            id,
            title: format!("Essay {n}"),
            kind: Default::default(),
            content: content.into(),
        };
        let first = user.save_document(&save(None, "first draft")).await.unwrap();
        user.save_document(&save(Some(first.id), "second draft")).await.unwrap();
        let suggestion = |text: &str| SuggestionInput {
            original_text: "draft".into(),
            suggested_text: text.into(),
            description: Some("clearer".into()),
        };
        let made = user.add_suggestions(first.id, vec![suggestion("version"), suggestion("text")]).await.unwrap();
        user.resolve_suggestion(first.id, made[0].id).await.unwrap();
        let mut files = vec![user.upload_file("cat.png", "image/png", PNG, Some(chat)).await.unwrap().id];
        files.push(user.upload_file("paper.pdf", "application/pdf", PDF, None).await.unwrap().id);
        files.push(
            user.upload_file("anim.gif", "image/gif", &b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"[..], None)
                .await
                .unwrap()
                .id,
        );
        accounts.push((email, files));
    }
    let guest = client.with_token(&client.guest().await.unwrap().token);
    collect(guest.send_text(ChatId::new(), "a guest's question").await.unwrap()).await;
    accounts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_moves_to_the_traditional_stack_and_back_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (home, away, back) = (dir.path().join("home"), dir.path().join("away"), dir.path().join("back"));
    let (home_env, away_env, back_env) = (embedded(&home), traditional(&away), embedded(&back));
    let from = env_file(dir.path(), "home.env", &home_env);
    let to = env_file(dir.path(), "away.env", &away_env);
    let again = env_file(dir.path(), "back.env", &back_env);

    let server = serve(&home, &home_env).await;
    let accounts = fill(&server.base_url()).await;
    let mut before = Vec::new();
    for (email, files) in &accounts {
        before.push(seen_by(&server.base_url(), email, files).await);
    }
    drop(server);

    let (code, summary) = migrate(&["copy", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    let messages = summary["tables"].as_array().unwrap().iter().find(|t| t["table"] == "messages").unwrap();
    assert!(messages["copied"].as_u64().unwrap() >= 84, "{messages:#}");
    assert_eq!(summary["objects"]["copied"], 9, "{summary:#}");
    let (code, verified) = migrate(&["verify", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{verified:#}");

    let server = serve(&away, &away_env).await;
    for ((email, files), seen) in accounts.iter().zip(&before) {
        assert_eq!(&seen_by(&server.base_url(), email, files).await, seen, "{email} on the traditional stack");
    }
    drop(server);

    // And back, to a fresh embedded deployment.
    let (code, summary) = migrate(&["copy", "--from", to.to_str().unwrap(), "--to", again.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    let server = serve(&back, &back_env).await;
    for ((email, files), seen) in accounts.iter().zip(&before) {
        assert_eq!(&seen_by(&server.base_url(), email, files).await, seen, "{email} back on the embedded stack");
    }
    drop(server);
    // A second copy finds everything there: nothing copied, nothing differs.
    let (code, summary) = migrate(&["copy", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    assert!(summary["tables"].as_array().unwrap().iter().all(|t| t["copied"] == 0), "{summary:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_killed_midway_completes_when_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let (home, away) = (dir.path().join("home"), dir.path().join("away"));
    let from = env_file(dir.path(), "home.env", &embedded(&home));
    let to = env_file(dir.path(), "away.env", &traditional(&away));
    // Enough rows for a slow, small-batch copy to be caught midway.
    let mut config = alleato_server::Config::from_env_file(&from).unwrap();
    config.database.max_connections = 2;
    let db = alleato_server::wiring::open_database(&config).await.unwrap();
    let email = format!("bulk-{}@example.com", uuid_like());
    let user = alleato_core::model::User {
        id: alleato_core::ids::UserId::new(),
        email,
        kind: alleato_core::model::UserKind::Regular,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        created_at: alleato_core::time::now(),
        sessions_valid_from: None,
    };
    db.users.insert_user(&user).await.unwrap();
    let chat = alleato_core::model::Chat {
        id: ChatId::new(),
        user_id: user.id,
        title: "bulk".into(),
        visibility: alleato_core::model::Visibility::Private,
        created_at: alleato_core::time::now(),
        updated_at: alleato_core::time::now(),
    };
    db.chats.insert_chat(&chat).await.unwrap();
    let start = alleato_core::time::now();
    let messages: Vec<_> = (0..4000)
        .map(|i| alleato_core::model::StoredMessage {
            id: alleato_core::ids::MessageId::new(),
            chat_id: chat.id,
            role: alleato_core::model::Role::User,
            parts: vec![alleato_core::model::MessagePart::text(format!("message {i}"))],
            attachments: vec![],
            created_at: start + Duration::from_millis(i),
        })
        .collect();
    for batch in messages.chunks(500) {
        db.chats.insert_messages(batch).await.unwrap();
    }
    drop(db);

    let checkpoint = dir.path().join("checkpoint.json");
    let args = ["copy", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap(), "--batch", "4"];
    let mut child = migrate_command(&[&args[..], &["--json", "--checkpoint", checkpoint.to_str().unwrap()]].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let began = Instant::now();
    while !std::fs::read_to_string(&checkpoint).unwrap_or_default().contains("messages") {
        assert!(child.try_wait().unwrap().is_none(), "the copy ended before it could be killed");
        assert!(began.elapsed() < Duration::from_secs(60), "the copy never reached the messages");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no chance to tidy up
    child.wait().unwrap();

    let (code, summary) = migrate(&[&args[..], &["--checkpoint", checkpoint.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{summary:#}");
    let table =
        |s: &Value, name: &str| s["tables"].as_array().unwrap().iter().find(|t| t["table"] == name).unwrap().clone();
    let resumed = table(&summary, "messages");
    assert!(resumed["resumed_after"].is_string(), "the second run starts from the checkpoint: {resumed:#}");
    assert!(resumed["copied"].as_u64().unwrap() > 0 && resumed["copied"].as_u64().unwrap() < 4000, "{resumed:#}");
    assert!(!checkpoint.exists(), "a finished copy leaves no checkpoint");
    let (code, verified) = migrate(&["verify", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{verified:#}");
    let messages = table(&verified, "messages");
    assert_eq!((messages["source_rows"].as_u64(), messages["identical"].as_u64()), (Some(4000), Some(4000)));
    assert_eq!(messages["only_in_target"], 0, "nothing duplicated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_lists_a_changed_message_and_a_missing_object_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (home, away) = (dir.path().join("home"), dir.path().join("away"));
    let home_env = embedded(&home);
    let from = env_file(dir.path(), "home.env", &home_env);
    let to = env_file(dir.path(), "away.env", &traditional(&away));
    let server = serve(&home, &home_env).await;
    let client = Client::new(server.base_url());
    let user =
        client.with_token(&client.register(&format!("v-{}@example.com", uuid_like()), PASSWORD).await.unwrap().token);
    let chat = ChatId::new();
    collect(user.send_text(chat, "the original question").await.unwrap()).await;
    let file = user.upload_file("cat.png", "image/png", PNG, Some(chat)).await.unwrap();
    let question = user.get_chat(chat).await.unwrap().messages[0].id;
    let key = format!("files/{}/{}", user.me().await.unwrap().id, file.id);
    drop(server);
    let (code, summary) = migrate(&["copy", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");

    // A message changed in the source behind the copy's back, an object gone from the target.
    let source = alleato_sqlite::SqliteDatabase::open(&home.join("alleato.sqlite3")).await.unwrap();
    use alleato_sqlite::sql::{Executor, Statement};
    let edit =
        Statement::new(r#"UPDATE "Message_v2" SET "parts" = '[{"type":"text","text":"edited"}]' WHERE "id" = ?1"#)
            .bind(question.to_string());
    source.executor().batch(vec![edit]).await.unwrap();
    let target = alleato_server::Config::from_env_file(&to).unwrap();
    let storage = alleato_server::wiring::plan(&target).storage;
    let objects = alleato_server::wiring::Opener::new(&target).objects(&storage).unwrap();
    objects.delete(&key).await.unwrap();

    let (code, verified) = migrate(&["verify", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 1, "{verified:#}");
    let messages = verified["tables"].as_array().unwrap().iter().find(|t| t["table"] == "messages").unwrap();
    assert_eq!(messages["differing"], 1, "{messages:#}");
    assert!(messages["examples"].to_string().contains(&question.to_string()), "{messages:#}");
    assert_eq!(verified["objects"]["missing"], 1, "{verified:#}");
    assert!(verified["objects"]["examples"].to_string().contains(&key), "{verified:#}");
    // The copy reports the changed row and never overwrites it; the object comes back.
    let (code, summary) = migrate(&["copy", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 1, "{summary:#}");
    assert_eq!(summary["objects"]["copied"], 1, "{summary:#}");
}
