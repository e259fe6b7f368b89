//! Deployments as `alleato migrate` and dual-write see them: env files naming each side's
//! stores, the `migrate` command run as the binary, and a server process over a side.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alleato_core::ids::{ChatId, FileId};
use alleato_sdk::api::{SaveDocumentRequest, SuggestionInput, VoteType};
use alleato_sdk::{Client, ListChats};
use serde_json::Value;

use crate::process::{ServerProcess, server_binary, traditional_env};
use crate::{PDF, PNG, collect, uuid_like};

pub const PASSWORD: &str = "correct horse battery";
pub const SECRET: &str = "migrate-test-secret-0123456789abcdef";

/// An embedded deployment in `dir`, as its env file says.
pub fn embedded(dir: &Path) -> Vec<(String, String)> {
    vec![("ALLEATO_DATA_DIR".into(), dir.display().to_string()), ("JWT_SECRET".into(), SECRET.into())]
}

/// A traditional deployment (PostgreSQL, S3) of its own schema and bucket prefix, and its own
/// embedded key-value store in `dir`.
pub fn traditional(dir: &Path) -> Vec<(String, String)> {
    let mut env = traditional_env("e2e", &format!("migrate_{}", crate::uuid_like()));
    env.retain(|(k, _)| !k.starts_with("REDIS") && !k.starts_with("ALLEATO_REDIS"));
    env.push(("ALLEATO_DATA_DIR".into(), dir.display().to_string()));
    env.push(("JWT_SECRET".into(), SECRET.into()));
    env
}

pub fn env_file(dir: &Path, name: &str, vars: &[(String, String)]) -> PathBuf {
    let path = dir.join(name);
    let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

pub fn migrate_command(args: &[&str]) -> Command {
    let mut command = Command::new(server_binary());
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).arg("migrate").args(args);
    command
}

/// Runs `alleato migrate …`; its exit code and its summary (JSON).
pub fn migrate(args: &[&str]) -> (i32, Value) {
    let Output { status, stdout, stderr } = migrate_command(&[args, &["--json"]].concat()).output().unwrap();
    let summary = serde_json::from_slice(&stdout).unwrap_or_else(|_| {
        panic!("no summary from {args:?}: {}\n{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr))
    });
    (status.code().unwrap_or(-1), summary)
}

/// The server binary over `data`, with `env` (rate limits off, the mock model without pauses).
pub async fn serve(data: &Path, env: &[(String, String)]) -> ServerProcess {
    let mut env = env.to_vec();
    env.retain(|(k, _)| k != "ALLEATO_DATA_DIR");
    env.extend([("AI_MOCK_CHUNK_DELAY_MS".into(), "0".into()), ("RATE_LIMIT_ENABLED".into(), "false".into())]);
    ServerProcess::start(&server_binary(), data, env).await.0
}

/// One table's line of a summary.
pub fn table(summary: &Value, name: &str) -> Value {
    summary["tables"].as_array().unwrap().iter().find(|t| t["table"] == name).unwrap().clone()
}

/// What a deployment holds for one account, read through the API after signing in.
pub async fn seen_by(base: &str, email: &str, files: &[FileId]) -> Value {
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
pub async fn fill(base: &str) -> Vec<(String, Vec<FileId>)> {
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

/// Fills a deployment through the API ([`fill`]) and reads back what each account sees.
pub async fn fill_and_read(base: &str) -> (Vec<(String, Vec<FileId>)>, Vec<Value>) {
    let accounts = fill(base).await;
    let mut seen = Vec::new();
    for (email, files) in &accounts {
        seen.push(seen_by(base, email, files).await);
    }
    (accounts, seen)
}

/// Asserts that every account sees on `base` what it saw before (`place` names where, for the message).
pub async fn assert_seen_again(base: &str, accounts: &[(String, Vec<FileId>)], before: &[Value], place: &str) {
    for ((email, files), seen) in accounts.iter().zip(before) {
        assert_eq!(&seen_by(base, email, files).await, seen, "{email} on {place}");
    }
}
