//! A language model of one's own plugged into the server's wiring: this one routes between two
//! providers, a fast one for short prompts and a strong one for long ones. Here both are the
//! mock model (no keys needed); put `OpenAiCompatible` models in their place for real ones.
//!
//! ```sh
//! cargo run -p alleato-server --example routing_model            # serves on 127.0.0.1:8787
//! cargo run -p alleato-server --example routing_model -- --smoke # checks itself and exits
//! ```

use std::sync::Arc;
use std::time::Duration;

use alleato_ai::MockModel;
use alleato_core::Result;
use alleato_core::model::Role;
use alleato_core::ports::{LanguageModel, ModelEvent, ModelRequest};
use alleato_server::{Builder, Config};
use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};

/// Sends prompts whose last user message is at most `threshold` words to `fast`, others to
/// `strong`; titles always go to `fast`.
struct RoutingModel {
    fast: Arc<dyn LanguageModel>,
    strong: Arc<dyn LanguageModel>,
    threshold: usize,
}

#[async_trait]
impl LanguageModel for RoutingModel {
    fn describe(&self) -> String {
        format!("routing (≤{} words: {}; longer: {})", self.threshold, self.fast.describe(), self.strong.describe())
    }

    async fn stream(&self, request: ModelRequest) -> Result<BoxStream<'static, Result<ModelEvent>>> {
        let words = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map_or(0, |m| m.content.split_whitespace().count());
        let (name, model) = if request.model.contains("title") || words <= self.threshold {
            ("fast", &self.fast)
        } else {
            ("strong", &self.strong)
        };
        tracing::info!(provider = name, words, "routed");
        // Say which provider answered, as the first words of the answer (for the smoke test).
        let mark = futures::stream::once(async move { Ok(ModelEvent::TextDelta(format!("[{name}] "))) });
        let answer = model.stream(request).await?;
        Ok(mark.chain(answer).boxed())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn,routing_model=info").init();
    let smoke = std::env::args().any(|a| a == "--smoke");
    let model = RoutingModel {
        fast: Arc::new(MockModel::new(Duration::from_millis(1))),
        strong: Arc::new(MockModel::new(Duration::from_millis(5))),
        threshold: 8,
    };
    let mut config = Config { ephemeral: true, ..Config::default() };
    if smoke {
        config.addr = "127.0.0.1:0".parse()?;
    }
    let alleato = Builder::new(config).model(Arc::new(model)).build().await?;
    anyhow::ensure!(alleato.adapters()[5].backend.starts_with("routing"), "the adapter table names the model");
    let listener = tokio::net::TcpListener::bind(if smoke { "127.0.0.1:0" } else { "127.0.0.1:8787" }).await?;
    let addr = listener.local_addr()?;
    let router = alleato.router().into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    if smoke {
        let client = alleato_sdk::Client::new(format!("http://{addr}"));
        let session = client.guest().await?;
        let client = client.with_token(&session.token);
        for (prompt, provider) in
            [("hi there", "[fast]"), ("please write a long essay about rivers lakes and the sea", "[strong]")]
        {
            let chat = client.create_chat(&Default::default()).await?;
            let text = answer(client.send_text(chat.id, prompt).await?).await;
            anyhow::ensure!(text.starts_with(provider), "{prompt:?} went to {provider}: {text}");
        }
        println!("routing_model: ok (short prompts to the fast provider, long ones to the strong)");
    } else {
        println!("http://{addr}/ with the routing model; Ctrl+C stops");
        tokio::signal::ctrl_c().await?;
    }
    server.abort();
    alleato.shutdown().await;
    Ok(())
}

/// The answer's text, from its UI message stream.
async fn answer(mut stream: alleato_sdk::EventStream) -> String {
    let mut text = String::new();
    while let Some(Ok(event)) = stream.next().await {
        if let Some(chunk) = event.json()
            && chunk["type"] == "text-delta"
        {
            text.push_str(chunk["delta"].as_str().unwrap_or_default());
        }
    }
    text
}
