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
    let slow = ENV.into_iter().chain([("AI_MOCK_CHUNK_DELAY_MS", "40")]);
    let (mut server, _) = ServerProcess::start(&server_binary(), dir.path(), slow).await;
    let client = Client::new(server.base_url());
    let (ada, session) = alleato_e2e::register_user(&client).await;
    let chat = ChatId::new();
    let mut answer = ada.send_text(chat, "Tell me a long story about a lighthouse keeper").await.unwrap();
    let mut seen = Vec::new();
    while deltas(&seen, "text").split_whitespace().count() < 6 {
        seen.push(answer.next().await.unwrap().unwrap());
    }
    // Time for the group commit to write what was seen (it writes every few milliseconds).
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(answer);

    let (server, _) = ServerProcess::start(&server_binary(), dir.path(), ENV).await;
    let ada = Client::new(server.base_url()).with_token(&session.token);
    let messages = ada.get_chat(chat).await.unwrap().messages;
    assert_eq!(messages.len(), 2, "the question and what there was of the answer");
    let stored = &messages[1];
    let partial = stored.parts[0].text_content().unwrap();
    let said = deltas(&seen, "text");
    assert!(partial.starts_with(&said), "stored {partial:?}, seen {said:?}");
    assert!(partial.split_whitespace().count() < 40, "cut short: {partial}");
    let mark = stored.parts.last().unwrap();
    assert_eq!(mark.type_name(), "data-error");
    assert_eq!(mark.get("data").unwrap()["code"], "interrupted:chat");

    // The stream was kept on disk: a client that was following picks it up and sees it end.
    let cursor = seen.last().unwrap().id;
    let rest = collect(ada.resume(chat, cursor).await.unwrap().expect("still replayable")).await;
    assert!(rest.last().unwrap().is_done());
    let types: Vec<_> = rest.iter().filter_map(|c| c.chunk_type()).collect();
    assert!(types.contains(&"error".to_owned()) && types.ends_with(&["finish".to_owned()]), "{types:?}");
    assert!(ada.resume(chat, None).await.unwrap().is_none(), "nothing is running any more");
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
