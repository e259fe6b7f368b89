//! Another axum service that mounts Alleato's API under `/chat`, beside routes of its own, on
//! its own tokio runtime and tracing subscriber.
//!
//! ```sh
//! cargo run -p alleato-server --example mount            # serves until Ctrl+C
//! cargo run -p alleato-server --example mount -- --smoke # checks itself and exits
//! ```

use std::net::SocketAddr;

use alleato_server::{Alleato, Config};
use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The host's own subscriber: Alleato's spans and events go where the host's go.
    tracing_subscriber::fmt().with_env_filter("warn,mount=info").init();

    // Alleato's configuration comes from wherever the host keeps its own; here, in memory.
    let config = Config { ephemeral: true, web_app: false, ..Config::default() };
    let alleato = Alleato::build(config).await?;

    let app = Router::new()
        .route("/", get(|| async { "The host service: Alleato's API is under /chat/api/v1" }))
        .route("/status", get(|| async { "ok" }))
        .nest("/chat", alleato.router());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    // Alleato's rate limits key on the client address: serve with connection info.
    let server =
        tokio::spawn(
            async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await },
        );

    if std::env::args().any(|a| a == "--smoke") {
        smoke(addr).await?;
        println!("mount: ok (host routes and Alleato's API on {addr})");
    } else {
        println!("http://{addr}/ (host) and http://{addr}/chat/api/v1/ (Alleato); Ctrl+C stops");
        tokio::signal::ctrl_c().await?;
    }
    server.abort();
    alleato.shutdown().await;
    Ok(())
}

/// The host's route, then Alleato's under the prefix: a guest session, a chat, and its listing.
async fn smoke(addr: SocketAddr) -> anyhow::Result<()> {
    let host = reqwest::get(format!("http://{addr}/status")).await?.text().await?;
    anyhow::ensure!(host == "ok", "the host's own route answers: {host}");
    let alleato = alleato_sdk::Client::new(format!("http://{addr}/chat"));
    let session = alleato.guest().await?;
    let signed_in = alleato.with_token(&session.token);
    let chat = signed_in.create_chat(&Default::default()).await?;
    let listed = signed_in.list_chats(&Default::default()).await?;
    anyhow::ensure!(listed.chats.iter().any(|c| c.id == chat.id), "the new chat is listed");
    let health = alleato.health().await?;
    anyhow::ensure!(health.status == "ok", "Alleato's health under the prefix");
    Ok(())
}
