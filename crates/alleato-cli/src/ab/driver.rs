//! The workload's requests: workers that each sign in, make their own chats, and pick
//! operations by weight until the phase ends. Only the operation's own request is timed; what
//! it needs first (an answer to vote on, a file to download) is made untimed.

use std::time::{Duration, Instant};

use alleato_sdk::Client;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use super::stats::{PhaseStats, Sample};
use super::workload::{Operation, Workload};

/// A PNG of 1×1 pixels: what `upload` sends.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

pub const PASSWORD: &str = "alleato-ab-password";

/// The longest a request may take, its answer's stream read to the end included: past it the
/// request is a `timeout` error of its operation, so a stuck side cannot stall the run.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// The one HTTP client of a comparison (readiness, replay, workload, `/metrics`): requests
/// bounded by [`REQUEST_LIMIT`], up to `idle_per_host` connections kept per side.
pub fn http_client(idle_per_host: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(idle_per_host)
        .connect_timeout(Duration::from_secs(10))
        .timeout(REQUEST_LIMIT)
        .build()
        .unwrap_or_default()
}

/// The error code of a request that got no whole answer.
fn transport_code(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() { "timeout" } else { "transport" }
}

/// What a request came back with.
pub struct Reply {
    pub status: u16,
    pub code: Option<String>,
    pub bytes: u64,
    pub body: Value,
    pub text: String,
}

/// Sends and reads the whole answer (an event stream to its end). A transport failure is a
/// reply with status 0 and code `transport` (`timeout` past [`REQUEST_LIMIT`]); an event
/// stream that ends in an `error` chunk has the code `stream_error`.
pub async fn call(request: reqwest::RequestBuilder) -> Reply {
    let failed = |status: u16, err: reqwest::Error| Reply {
        status,
        code: Some(transport_code(&err).into()),
        bytes: 0,
        body: Value::Null,
        text: String::new(),
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => return failed(0, err),
    };
    let status = response.status().as_u16();
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(err) => return failed(status, err),
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = if status >= 400 {
        Some(body.get("code").and_then(Value::as_str).unwrap_or("http_error").to_owned())
    } else if text.contains(r#""type":"error""#) {
        Some("stream_error".to_owned())
    } else {
        None
    };
    Reply { status, code, bytes: bytes.len() as u64, body, text }
}

/// The `messageId` of an answer's `start` chunk.
pub fn answer_id(stream: &str) -> Option<String> {
    stream.lines().filter_map(|line| line.strip_prefix("data: ")).find_map(|data| {
        let chunk: Value = serde_json::from_str(data).ok()?;
        (chunk["type"] == "start").then(|| chunk["messageId"].as_str().map(str::to_owned)).flatten()
    })
}

/// [`PNG`] as the multipart `file` of an upload.
pub fn png_part(name: &str) -> reqwest::multipart::Part {
    // `image/png` always parses; the part stays typed even if it did not.
    let part = || reqwest::multipart::Part::bytes(PNG).file_name(name.to_owned());
    part().mime_str("image/png").unwrap_or_else(|_| part())
}

pub fn text_message(text: &str) -> Value {
    json!({"message": {"role": "user", "parts": [{"type": "text", "text": text}]}})
}

/// One worker's session and what it has made.
struct Worker {
    anonymous: Client,
    client: Client,
    rng: StdRng,
    chat: String,
    answer: Option<String>,
    document: Option<String>,
    file: Option<String>,
    sent: u64,
}

/// Runs the workload against `base` for its warm-up and duration; the samples of the measured
/// part.
pub async fn phase(
    http: &reqwest::Client,
    base: &str,
    workload: &Workload,
    seed: u64,
    progress: &indicatif::ProgressBar,
) -> PhaseStats {
    let measured_from = Instant::now() + workload.warmup();
    let until = measured_from + workload.duration();
    let mut tasks = Vec::new();
    for n in 0..workload.concurrency {
        let anonymous = Client::with_http(http.clone(), base.to_owned());
        let guest = f64::from(n) < f64::from(workload.concurrency) * workload.guest_share;
        let workload = workload.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let Some(mut worker) = Worker::start(anonymous, guest, seed.wrapping_add(u64::from(n))).await else {
                return samples;
            };
            while Instant::now() < until {
                let operation = pick(&workload, &mut worker.rng);
                if let Some(mut sample) = worker.run(operation).await {
                    let now = Instant::now();
                    if now >= measured_from && now <= until {
                        sample.at = now - measured_from;
                        samples.push(sample);
                    }
                }
            }
            samples
        }));
    }
    let ticker = {
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                progress.set_position(until.saturating_duration_since(Instant::now()).as_millis() as u64);
            }
        })
    };
    let mut stats = PhaseStats::new(workload.duration());
    for task in tasks {
        for sample in task.await.unwrap_or_default() {
            stats.add(sample);
        }
    }
    ticker.abort();
    stats
}

fn pick(workload: &Workload, rng: &mut StdRng) -> Operation {
    let total: u32 = Operation::ALL.iter().map(|op| workload.mix.weight(*op)).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for op in Operation::ALL {
        let weight = workload.mix.weight(op);
        if roll < weight {
            return op;
        }
        roll -= weight;
    }
    Operation::ReadChat
}

impl Worker {
    async fn start(anonymous: Client, guest: bool, seed: u64) -> Option<Self> {
        let session = if guest { anonymous.guest().await } else { anonymous.register(&email(), PASSWORD).await };
        let client = anonymous.with_token(&session.ok()?.token);
        let chat = client.create_chat(&Default::default()).await.ok()?.id.to_string();
        let rng = StdRng::seed_from_u64(seed);
        Some(Self { anonymous, client, rng, chat, answer: None, document: None, file: None, sent: 0 })
    }

    /// Runs one operation; `None` when it could not even be prepared.
    async fn run(&mut self, operation: Operation) -> Option<Sample> {
        let chat = self.chat.clone();
        let (started, reply) = match operation {
            Operation::Guest => timed(self.anonymous.request(Method::POST, "/api/v1/auth/guest")).await,
            Operation::Register => {
                let body = json!({"email": email(), "password": PASSWORD});
                timed(self.anonymous.request(Method::POST, "/api/v1/auth/register").json(&body)).await
            }
            Operation::CreateChat => {
                let timed = timed(self.client.request(Method::POST, "/api/v1/chats").json(&json!({}))).await;
                if let Some(id) = timed.1.body["chat"]["id"].as_str() {
                    self.chat = id.to_owned();
                    self.answer = None;
                }
                timed
            }
            Operation::Send => {
                let timed = timed(self.send_request(&chat)).await;
                self.answer = answer_id(&timed.1.text).or(self.answer.take());
                timed
            }
            Operation::ListHistory => timed(self.client.request(Method::GET, "/api/v1/chats?limit=20")).await,
            Operation::ReadChat => timed(self.client.request(Method::GET, &format!("/api/v1/chats/{chat}"))).await,
            Operation::Vote => {
                if self.answer.is_none() {
                    let reply = call(self.send_request(&chat)).await;
                    self.answer = answer_id(&reply.text);
                }
                let answer = self.answer.clone()?;
                let kind = if self.rng.random_bool(0.5) { "up" } else { "down" };
                let path = format!("/api/v1/chats/{chat}/messages/{answer}/vote");
                timed(self.client.request(Method::PUT, &path).json(&json!({"type": kind}))).await
            }
            Operation::SaveDocument => {
                let mut body = json!({"title": "A/B document", "content": "Version text. ".repeat(20), "kind": "text"});
                if let Some(id) = &self.document {
                    body["id"] = json!(id);
                }
                let timed = timed(self.client.request(Method::POST, "/api/v1/documents").json(&body)).await;
                if let Some(id) = timed.1.body["document"]["id"].as_str() {
                    self.document = Some(id.to_owned());
                }
                timed
            }
            Operation::Upload => {
                let timed = timed(self.upload_request()).await;
                if let Some(id) = timed.1.body["id"].as_str() {
                    self.file = Some(id.to_owned());
                }
                timed
            }
            Operation::Download => {
                if self.file.is_none() {
                    self.file = call(self.upload_request()).await.body["id"].as_str().map(str::to_owned);
                }
                let file = self.file.clone()?;
                timed(self.client.request(Method::GET, &format!("/api/v1/files/{file}/content"))).await
            }
            Operation::Resume => {
                let cursor = self.start_answer(&chat).await?;
                let path = format!("/api/v1/chats/{chat}/stream?cursor={cursor}");
                timed(self.client.request(Method::GET, &path).header("accept", "text/event-stream")).await
            }
            Operation::Stop => {
                let body = self.next_message();
                let mut stream = self.client.send_message(chat.parse().ok()?, &body).await.ok()?;
                stream.next().await;
                let timed = timed(self.client.request(Method::POST, &format!("/api/v1/chats/{chat}/stop"))).await;
                // The answer ends (stopped); read it to its end so the chat is free again.
                while stream.next().await.is_some() {}
                timed
            }
        };
        Some(Sample { operation, took: started, code: reply.code, bytes: reply.bytes, at: Duration::ZERO })
    }

    fn next_message(&mut self) -> Value {
        self.sent += 1;
        text_message(&format!("A/B message {} about rivers and lakes", self.sent))
    }

    fn send_request(&mut self, chat: &str) -> reqwest::RequestBuilder {
        let body = self.next_message();
        self.client
            .request(Method::POST, &format!("/api/v1/chats/{chat}/messages"))
            .header("accept", "text/event-stream")
            .json(&body)
    }

    fn upload_request(&self) -> reqwest::RequestBuilder {
        let part = reqwest::multipart::Part::bytes(PNG)
            .file_name("ab.png")
            .mime_str("image/png")
            .unwrap_or_else(|_| reqwest::multipart::Part::bytes(PNG).file_name("ab.png"));
        self.client
            .request(Method::POST, "/api/v1/files/upload")
            .multipart(reqwest::multipart::Form::new().part("file", part))
    }

    /// Starts an answer and leaves it after its first event; the cursor to resume from.
    async fn start_answer(&mut self, chat: &str) -> Option<u64> {
        let body = self.next_message();
        let mut stream = self.client.send_message(chat.parse().ok()?, &body).await.ok()?;
        let first = stream.next().await?.ok()?;
        first.id
    }
}

async fn timed(request: reqwest::RequestBuilder) -> (Duration, Reply) {
    let started = Instant::now();
    let reply = call(request).await;
    (started.elapsed(), reply)
}

fn email() -> String {
    format!("ab-{}@alleato-ab.example", uuid::Uuid::new_v4().simple())
}
