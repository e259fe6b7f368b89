//! A crash loses as little as it can: a generation killed mid-answer is stored, marked as cut
//! short, once the server is back, and its stream can still be replayed; bytes an upload left
//! without metadata are swept.

use std::sync::Arc;
use std::time::Duration;

use alleato_core::ids::{FileId, SessionId, UserId};
use alleato_core::model::{User, UserKind};
use alleato_core::ports::{ObjectStorage, UserStore};
use alleato_core::services::{FileService, FileSettings, Principal, Upload};
use alleato_e2e::process::{ServerProcess, server_binary};
use alleato_e2e::{PNG, collect, deltas};
use alleato_objects::ObjectStoreAdapter;
use alleato_sdk::Client;
use alleato_sdk::api::ChatId;
use alleato_sqlite::SqliteDatabase;
use futures::StreamExt;

const ENV: [(&str, &str); 3] = [
    ("ALLEATO_RATE_LIMIT__API_PER_MINUTE", "1000000"),
    ("ALLEATO_RATE_LIMIT__AUTH_PER_MINUTE", "1000000"),
    ("JWT_SECRET", "a-secret-that-survives-the-restart-0123456789"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_killed_mid_answer_is_kept_and_ended_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = ENV.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let (chat, seen, session) = kill_mid_answer(dir.path(), &env).await;

    let (server, _) = ServerProcess::start(&server_binary(), dir.path(), env).await;
    let ada = Client::new(server.base_url()).with_token(&session.token);
    assert_interrupted(&ada.get_chat(chat).await.unwrap().messages, &seen);

    // The stream was kept on disk: a client that was following picks it up and sees it end.
    let cursor = seen.last().unwrap().id;
    let rest = collect(ada.resume(chat, cursor).await.unwrap().expect("still replayable")).await;
    assert!(rest.last().unwrap().is_done());
    let types: Vec<_> = rest.iter().filter_map(|c| c.chunk_type()).collect();
    assert!(types.contains(&"error".to_owned()) && types.ends_with(&["finish".to_owned()]), "{types:?}");
    assert!(ada.resume(chat, None).await.unwrap().is_none(), "nothing is running any more");
}

/// Starts a server on `dir` with `env`, sends a slow message, reads the answer until it has said
/// a few words, and kills the process (SIGKILL): what was seen, and the session.
async fn kill_mid_answer(
    dir: &std::path::Path,
    env: &[(String, String)],
) -> (ChatId, Vec<alleato_sdk::SseChunk>, alleato_sdk::api::AuthResponse) {
    let slow = env.iter().cloned().chain([("AI_MOCK_CHUNK_DELAY_MS".to_owned(), "40".to_owned())]);
    let (mut server, _) = ServerProcess::start(&server_binary(), dir, slow).await;
    let client = Client::new(server.base_url());
    let (ada, session) = alleato_e2e::register_user(&client).await;
    let chat = ChatId::new();
    let mut answer = ada.send_text(chat, "Tell me a long story about a lighthouse keeper").await.unwrap();
    let mut seen = Vec::new();
    while deltas(&seen, "text").split_whitespace().count() < 6 {
        seen.push(answer.next().await.unwrap().unwrap());
    }
    // Time for what was seen to be written (the embedded store commits every few milliseconds).
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    (chat, seen, session)
}

/// The answer as stored after the kill: what was said, then the interrupted mark.
fn assert_interrupted(messages: &[alleato_sdk::api::StoredMessage], seen: &[alleato_sdk::SseChunk]) {
    assert_eq!(messages.len(), 2, "the question and what there was of the answer");
    let stored = &messages[1];
    let partial = stored.parts[0].text_content().unwrap();
    let said = deltas(seen, "text");
    assert!(partial.starts_with(&said), "stored {partial:?}, seen {said:?}");
    assert!(partial.split_whitespace().count() < 40, "cut short: {partial}");
    let mark = stored.parts.last().unwrap();
    assert_eq!(mark.type_name(), "data-error");
    assert_eq!(mark.get("data").unwrap()["code"], "interrupted:chat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_stack_the_next_resume_ends_a_generation_whose_process_died() {
    let run = alleato_e2e::uuid_like();
    let mut env: Vec<(String, String)> = alleato_e2e::process::traditional_env("e2e", &run);
    env.extend(ENV.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env.push(("ALLEATO_CHAT__ABANDONED_GENERATION_SECS".into(), "5".into()));
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (chat, seen, session) = kill_mid_answer(first.path(), &env).await;

    // Another instance: nothing runs the generation any more, and its stream (in Redis) is
    // silent. Within the abandon time it is left alone; after it, a resume ends it.
    let (server, _) = ServerProcess::start(&server_binary(), second.path(), env.clone()).await;
    let ada = Client::new(server.base_url()).with_token(&session.token);
    assert!(ada.resume(chat, None).await.unwrap().is_some(), "not yet taken as dead");
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let cursor = seen.last().unwrap().id;
    let rest = collect(ada.resume(chat, cursor).await.unwrap().expect("replayable")).await;
    assert!(rest.last().unwrap().is_done());
    let types: Vec<_> = rest.iter().filter_map(|c| c.chunk_type()).collect();
    assert!(types.contains(&"error".to_owned()) && types.ends_with(&["finish".to_owned()]), "{types:?}");
    assert_interrupted(&ada.get_chat(chat).await.unwrap().messages, &seen);
    assert!(!ada.stop(chat).await.unwrap(), "nothing left to stop");
}

#[tokio::test]
async fn bytes_without_metadata_are_swept_once_old() {
    let dir = tempfile::tempdir().unwrap();
    let database = Arc::new(SqliteDatabase::memory().await.unwrap());
    let objects = Arc::new(ObjectStoreAdapter::local(dir.path()).unwrap());
    let files = FileService::new(database.clone(), database.clone(), objects.clone(), FileSettings::default());
    let user = User {
        id: UserId::new(),
        email: "sweep@example.com".into(),
        kind: UserKind::Regular,
        password_hash: None,
        created_at: alleato_core::time::now(),
        sessions_valid_from: None,
    };
    database.insert_user(&user).await.unwrap();
    let who = Principal { user: user.clone(), session_id: SessionId(uuid::Uuid::new_v4()) };
    let upload = Upload { name: Some("kept.png".into()), declared_type: None, bytes: PNG.into(), chat_id: None };
    let kept = files.upload(&who, upload).await.unwrap();
    // What a process killed between storing the bytes and the metadata leaves.
    let orphan = format!("files/{}/{}", user.id, FileId::new());
    objects.put(&orphan, PNG.into(), "image/png").await.unwrap();

    assert_eq!(files.sweep_orphans(Duration::from_secs(3600)).await.unwrap(), 0, "too young: maybe in flight");
    assert_eq!(files.sweep_orphans(Duration::ZERO).await.unwrap(), 1);
    assert!(objects.get(&orphan).await.unwrap().is_none(), "the orphan is gone");
    assert!(objects.get(&kept.storage_key).await.unwrap().is_some(), "a file with metadata stays");
}
