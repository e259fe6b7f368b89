//! A nightly job beside the server: it reads the same configuration (`config/default.toml` and
//! the environment, as `alleato serve` does), opens the same stores through the server's own
//! openers, and uses the services directly, with their access rules, to export one user's
//! chats as JSON lines.
//!
//! ```sh
//! cargo run -p alleato-server --example export_chats -- ada@example.com > ada.jsonl
//! cargo run -p alleato-server --example export_chats -- --smoke   # on a throwaway store
//! ```

use std::io::Write;

use alleato_core::ids::SessionId;
use alleato_core::model::{ChatCursorDirection, ChatPage, StoredMessage};
use alleato_core::services::{NewChat, Principal, Services};
use alleato_server::Config;
use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").with_writer(std::io::stderr).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--smoke") {
        return smoke().await;
    }
    let email = args.first().context("usage: export_chats <email>")?;
    let config = Config::load().map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let wired = alleato_server::wiring::wire(&config).await?;
    let count = export(&wired.services, email, &mut std::io::stdout().lock()).await?;
    eprintln!("exported {count} chats of {email}");
    Ok(())
}

/// Writes `{"chat": …, "messages": […]}` per chat of the user, newest first; the number written.
async fn export(services: &Services, email: &str, out: &mut impl Write) -> anyhow::Result<usize> {
    let user = services.ports.users.user_by_email(email).await?.with_context(|| format!("no user {email}"))?;
    // The job acts as the user, so the services apply the same rules as to a request of theirs.
    let who = Principal { user, session_id: SessionId::new() };
    let mut page = ChatPage { limit: ChatPage::MAX_LIMIT, cursor: None };
    let mut written = 0;
    loop {
        let (chats, more) = services.chats.list(&who, page).await?;
        for chat in &chats {
            let (chat, messages): (_, Vec<StoredMessage>) = services.chats.get(&who, chat.id).await?;
            serde_json::to_writer(&mut *out, &serde_json::json!({"chat": chat, "messages": messages}))?;
            out.write_all(b"\n")?;
            written += 1;
        }
        match chats.last() {
            Some(last) if more => page.cursor = Some((ChatCursorDirection::EndingBefore, last.id)),
            _ => return Ok(written),
        }
    }
}

/// On an embedded store in a temporary directory: a user with more chats than one page holds,
/// exported in full.
async fn smoke() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    let wired = alleato_server::wiring::wire(&config).await?;
    let services = &wired.services;
    let session = services.auth.register("ada@example.com", "correct horse battery".into()).await?;
    let who = Principal { user: session.user, session_id: SessionId::new() };
    let total = ChatPage::MAX_LIMIT as usize + 5;
    for i in 0..total {
        let new = NewChat { title: Some(format!("Chat {i}")), ..Default::default() };
        services.chats.create(&who, new).await?;
    }
    let mut out = Vec::new();
    let written = export(services, "ada@example.com", &mut out).await?;
    let lines = String::from_utf8(out)?;
    anyhow::ensure!(written == total && lines.lines().count() == total, "{written} of {total} chats exported");
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap_or_default())?;
    anyhow::ensure!(first["chat"]["title"] == format!("Chat {}", total - 1), "newest first: {first}");
    println!("export_chats: ok ({written} chats as JSON lines)");
    Ok(())
}
