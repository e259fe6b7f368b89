//! `alleato migrate` through the real binary: the embedded stack filled through the API, copied
//! to the traditional one (PostgreSQL + S3) and served from there, then copied back; a copy
//! killed midway and run again; differences injected for `verify` to find.

use std::process::Stdio;
use std::time::{Duration, Instant};

use alleato_core::ids::ChatId;
use alleato_e2e::alleato_sdk::Client;
use alleato_e2e::deployments::{
    PASSWORD, assert_seen_again, embedded, env_file, fill_and_read, migrate, migrate_command, serve, table, traditional,
};
use alleato_e2e::{PNG, collect, uuid_like};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_moves_to_the_traditional_stack_and_back_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (home, away, back) = (dir.path().join("home"), dir.path().join("away"), dir.path().join("back"));
    let (home_env, away_env, back_env) = (embedded(&home), traditional(&away), embedded(&back));
    let from = env_file(dir.path(), "home.env", &home_env);
    let to = env_file(dir.path(), "away.env", &away_env);
    let again = env_file(dir.path(), "back.env", &back_env);

    let server = serve(&home, &home_env).await;
    let (accounts, before) = fill_and_read(&server.base_url()).await;
    drop(server);

    let (code, summary) = migrate(&["copy", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    let messages = summary["tables"].as_array().unwrap().iter().find(|t| t["table"] == "messages").unwrap();
    assert!(messages["copied"].as_u64().unwrap() >= 84, "{messages:#}");
    assert_eq!(summary["objects"]["copied"], 9, "{summary:#}");
    let (code, verified) = migrate(&["verify", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{verified:#}");

    let server = serve(&away, &away_env).await;
    assert_seen_again(&server.base_url(), &accounts, &before, "the traditional stack").await;
    drop(server);

    // And back, to a fresh embedded deployment.
    let (code, summary) = migrate(&["copy", "--from", to.to_str().unwrap(), "--to", again.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    let server = serve(&back, &back_env).await;
    assert_seen_again(&server.base_url(), &accounts, &before, "the embedded stack again").await;
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

/// The Cloudflare stack as a side (`cloudflare_env`), with its local bits in `dir`.
fn cloudflare(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut env = alleato_e2e::process::cloudflare_env("e2e", &uuid_like());
    env.push(("ALLEATO_DATA_DIR".into(), dir.display().to_string()));
    env.push(("JWT_SECRET".into(), alleato_e2e::deployments::SECRET.into()));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_moves_to_d1_and_r2_and_is_served_there() {
    let dir = tempfile::tempdir().unwrap();
    let (home, edge) = (dir.path().join("home"), dir.path().join("edge"));
    let (home_env, edge_env) = (embedded(&home), cloudflare(&edge));
    let from = env_file(dir.path(), "home.env", &home_env);
    let to = env_file(dir.path(), "edge.env", &edge_env);
    let server = serve(&home, &home_env).await;
    let (accounts, before) = fill_and_read(&server.base_url()).await;
    drop(server);

    let (code, summary) = migrate(&["copy", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    assert!(summary["target"]["database"].as_str().unwrap().starts_with("d1"), "{summary:#}");
    assert_eq!(summary["objects"]["copied"], 9, "{summary:#}");
    let (code, verified) = migrate(&["verify", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{verified:#}");
    let server = serve(&edge, &edge_env).await;
    assert_seen_again(&server.base_url(), &accounts, &before, "D1 and R2").await;
}

/// `--sessions`: a user signed in on the embedded stack stays signed in on a target whose
/// key-value store is another (Redis), with the same token; without it, the token ends there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_move_with_the_key_value_store_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (home, away) = (dir.path().join("home"), dir.path().join("away"));
    let home_env = embedded(&home);
    let mut away_env = traditional(&away);
    away_env.push(("REDIS_URL".into(), alleato_e2e::redis_url()));
    away_env.push(("ALLEATO_REDIS__PREFIX".into(), format!("e2e:sessions_{}:", uuid_like())));
    let from = env_file(dir.path(), "home.env", &home_env);
    let to = env_file(dir.path(), "away.env", &away_env);
    let server = serve(&home, &home_env).await;
    let client = Client::new(server.base_url());
    let session = client.register(&format!("s-{}@example.com", uuid_like()), PASSWORD).await.unwrap();
    let ended = client.register(&format!("t-{}@example.com", uuid_like()), PASSWORD).await.unwrap();
    client.with_token(&ended.token).logout().await.unwrap();
    drop(server);

    let copy = ["copy", "--from", from.to_str().unwrap(), "--to", to.to_str().unwrap()];
    let (code, summary) = migrate(&copy);
    assert_eq!((code, &summary["sessions_copied"]), (0, &Value::Bool(false)), "{summary:#}");
    let server = serve(&away, &away_env).await;
    let there = Client::new(server.base_url());
    let err = there.with_token(&session.token).me().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "without --sessions the session is not there");
    drop(server);

    let (code, summary) = migrate(&[&copy[..], &["--sessions"]].concat());
    assert_eq!(code, 0, "{summary:#}");
    assert_eq!(summary["sessions"]["copied"], 1, "the live one, not the one signed out: {summary:#}");
    let server = serve(&away, &away_env).await;
    let there = Client::new(server.base_url());
    assert_eq!(there.with_token(&session.token).me().await.unwrap().id, session.user.id, "still signed in");
    assert_eq!(there.with_token(&ended.token).me().await.unwrap_err().status(), Some(401), "still signed out");
}
