//! Copy throughput (`--copy`): an embedded deployment of 100,000 messages copied to PostgreSQL
//! by `alleato migrate copy` (the release binary, as an operator runs it), beside PostgreSQL's
//! own `COPY` loading the same rows into an empty schema of the same tables, in the same run.
//! Both rates count the same rows and the same bytes (the rows as `COPY`'s text format).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use alleato_core::ids::{ChatId, MessageId, UserId};
use alleato_core::model::{Chat, MessagePart, Role, StoredMessage, User, UserKind, Visibility};
use alleato_core::ports::{Record, Table};
use alleato_core::time::{Timestamp, now, to_sortable_text};
use alleato_e2e::deployments::{env_file, traditional};
use sqlx::Connection;

const USERS: usize = 10;
const CHATS_PER_USER: usize = 100;

/// Every row of the deployment, in `Table::ALL` order, as the copy moves them.
struct Rows {
    users: Vec<User>,
    chats: Vec<Chat>,
    messages: Vec<StoredMessage>,
}

fn rows(messages: usize) -> Rows {
    let start = now() - chrono::Duration::days(30);
    let at = |i: usize| -> Timestamp { start + chrono::Duration::milliseconds(i as i64) };
    let users: Vec<User> = (0..USERS)
        .map(|i| User {
            id: UserId::new(),
            email: format!("copy-{i}-{}@example.com", alleato_e2e::uuid_like()),
            kind: UserKind::Regular,
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into()),
            created_at: at(i),
            sessions_valid_from: None,
        })
        .collect();
    let chats: Vec<Chat> = (0..USERS * CHATS_PER_USER)
        .map(|i| Chat {
            id: ChatId::new(),
            user_id: users[i % USERS].id,
            title: format!("Chat number {i} about something"),
            visibility: Visibility::Private,
            created_at: at(i),
            updated_at: at(i),
        })
        .collect();
    // A question or an answer of about 40 words each, as the mock model answers.
    let words = "the quick brown fox jumps over the lazy dog while a curious cat watches from the \
                 garden wall and wonders why anyone would jump over a dog at all when walking \
                 around it is so much easier";
    let messages = (0..messages)
        .map(|i| StoredMessage {
            id: MessageId::new(),
            chat_id: chats[i % chats.len()].id,
            role: if i % 2 == 0 { Role::User } else { Role::Assistant },
            parts: vec![MessagePart::text(format!("{i}: {words}"))],
            attachments: Vec::new(),
            created_at: at(i),
        })
        .collect();
    Rows { users, chats, messages }
}

/// One value of `COPY`'s text format: backslash, tab, newline and carriage return escaped.
fn field(out: &mut String, value: Option<&str>) {
    let Some(value) = value else { return out.push_str("\\N") };
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn line(out: &mut String, fields: &[Option<&str>]) {
    for (i, value) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        field(out, *value);
    }
    out.push('\n');
}

/// The three tables as `COPY` text, with the statement that loads each.
fn copy_text(rows: &Rows) -> Vec<(&'static str, String)> {
    let ts = |t: &Timestamp| to_sortable_text(t);
    let mut users = String::new();
    for u in &rows.users {
        let (id, at) = (u.id.to_string(), ts(&u.created_at));
        line(
            &mut users,
            &[Some(&id), Some(&u.email), Some(u.kind.as_str()), u.password_hash.as_deref(), Some(&at), None],
        );
    }
    let mut chats = String::new();
    for c in &rows.chats {
        let (id, user, at) = (c.id.to_string(), c.user_id.to_string(), ts(&c.created_at));
        line(&mut chats, &[Some(&id), Some(&user), Some(&c.title), Some(c.visibility.as_str()), Some(&at), Some(&at)]);
    }
    let owner: std::collections::HashMap<ChatId, UserId> = rows.chats.iter().map(|c| (c.id, c.user_id)).collect();
    let mut messages = String::new();
    for m in &rows.messages {
        let (id, chat, user) = (m.id.to_string(), m.chat_id.to_string(), owner[&m.chat_id].to_string());
        let parts = serde_json::to_string(&m.parts).unwrap();
        let attachments = serde_json::to_string(&m.attachments).unwrap();
        let at = ts(&m.created_at);
        line(
            &mut messages,
            &[Some(&id), Some(&chat), Some(&user), Some(m.role.as_str()), Some(&parts), Some(&attachments), Some(&at)],
        );
    }
    vec![
        (r#"COPY "User" ("id", "email", "type", "password", "createdAt", "sessionsValidFrom") FROM STDIN"#, users),
        (r#"COPY "Chat" ("id", "userId", "title", "visibility", "createdAt", "updatedAt") FROM STDIN"#, chats),
        (
            r#"COPY "Message_v2" ("id", "chatId", "userId", "role", "parts", "attachments", "createdAt") FROM STDIN"#,
            messages,
        ),
    ]
}

fn rate(n: f64, took: Duration) -> f64 {
    n / took.as_secs_f64()
}

pub async fn copy_throughput(binary: &Path, messages: usize) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let from = env_file(dir.path(), "home.env", &[("ALLEATO_DATA_DIR".into(), home.display().to_string())]);
    let rows = rows(messages);
    let source =
        alleato_server::wiring::open_database(&alleato_server::Config::from_env_file(&from).unwrap()).await.unwrap();
    let records = |table: Table| -> Vec<Record> {
        match table {
            Table::Users => rows.users.iter().cloned().map(Record::User).collect(),
            Table::Chats => rows.chats.iter().cloned().map(Record::Chat).collect(),
            Table::Messages => rows.messages.iter().cloned().map(Record::Message).collect(),
            _ => Vec::new(),
        }
    };
    for table in [Table::Users, Table::Chats, Table::Messages] {
        for batch in records(table).chunks(2000) {
            source.transfer.import_rows(table, batch).await.unwrap();
        }
    }
    drop(source);
    let total_rows = (rows.users.len() + rows.chats.len() + rows.messages.len()) as f64;
    let texts = copy_text(&rows);
    let megabytes = texts.iter().map(|(_, t)| t.len()).sum::<usize>() as f64 / 1e6;

    println!(
        "\ncopy throughput: embedded (SQLite) → PostgreSQL, {} messages in {} chats of {} users: {:.0} rows, \
         {megabytes:.1} MB as COPY text",
        rows.messages.len(),
        rows.chats.len(),
        rows.users.len(),
        total_rows
    );
    println!("  {:<34} {:>10} {:>9} {:>9}", "", "rows/s", "MB/s", "seconds");

    // PostgreSQL's own COPY into an empty schema of the same tables (made by the server's
    // migrations), on one connection, the rows already in COPY's format.
    let reference = traditional(&dir.path().join("reference"));
    let config = alleato_server::Config::from_env_file(&env_file(dir.path(), "reference.env", &reference)).unwrap();
    drop(alleato_server::wiring::open_database(&config).await.unwrap());
    let schema = reference.iter().find(|(k, _)| k == "ALLEATO_DATABASE__SCHEMA").unwrap().1.clone();
    let mut pg = sqlx::PgConnection::connect(&alleato_e2e::postgres_url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET search_path TO \"{schema}\""))).execute(&mut pg).await.unwrap();
    let began = Instant::now();
    for (statement, text) in &texts {
        let mut copy = pg.copy_in_raw(statement).await.unwrap();
        copy.send(text.as_bytes()).await.unwrap();
        copy.finish().await.unwrap();
    }
    let copy_took = began.elapsed();
    let copy_rate = rate(total_rows, copy_took);
    println!(
        "  {:<34} {:>10.0} {:>9.1} {:>9.2}",
        "PostgreSQL COPY (rows ready)",
        copy_rate,
        rate(megabytes, copy_took),
        copy_took.as_secs_f64()
    );

    for batch in [1000, 5000] {
        let away = traditional(&dir.path().join(format!("away-{batch}")));
        let to = env_file(dir.path(), &format!("away-{batch}.env"), &away);
        let began = Instant::now();
        let output = Command::new(binary)
            .env_clear()
            .args(["migrate", "copy", "--json", "--batch", &batch.to_string(), "--from"])
            .arg(&from)
            .arg("--to")
            .arg(&to)
            .output()
            .unwrap();
        let took = began.elapsed();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let copied: u64 = summary["tables"].as_array().unwrap().iter().map(|t| t["copied"].as_u64().unwrap()).sum();
        assert_eq!(copied as f64, total_rows, "every row copied");
        let migrate_rate = rate(total_rows, took);
        println!(
            "  {:<34} {:>10.0} {:>9.1} {:>9.2}   {:.0}% of COPY's rate",
            format!("alleato migrate copy --batch {batch}"),
            migrate_rate,
            rate(megabytes, took),
            took.as_secs_f64(),
            100.0 * migrate_rate / copy_rate
        );
    }
    println!(
        "  (migrate: the whole command, start to exit: opening both sides, reading SQLite, comparing each batch \
         with the target's key range, writing, a checkpoint per batch)"
    );
}
