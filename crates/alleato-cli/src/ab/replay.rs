//! Correctness beside speed: one scripted sequence, replayed on each side, whose observable
//! results (status, error code, the body's shape and values, the order of lists, the stored
//! messages, the bytes of a file) must be the same. Ids, times, tokens and addresses differ by
//! nature and are masked before comparing.

use alleato_sdk::Client;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::driver::{PASSWORD, PNG, Reply, answer_id, call, png_part, text_message};

/// One step's observation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    pub step: String,
    pub status: u16,
    /// The body, masked (or, for an answer's stream, its chunk types and text).
    pub value: Value,
}

/// A step whose observations differ.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    pub step: String,
    /// Where they first differ: `status`, or a JSON pointer into the value.
    pub at: String,
    pub a: Value,
    pub b: Value,
}

/// Runs the script on the server at `base`.
pub async fn replay(http: &reqwest::Client, base: &str) -> Vec<Observation> {
    let mut seen = Seen(Vec::new());
    let anonymous = Client::with_http(http.clone(), base.to_owned());
    let email = format!("ab-replay-{}@alleato-ab.example", uuid::Uuid::new_v4().simple());

    let register = call(
        anonymous.request(Method::POST, "/api/v1/auth/register").json(&json!({"email": email, "password": PASSWORD})),
    )
    .await;
    seen.push("register", &register, mask(&register.body));
    let Some(token) = register.body["token"].as_str() else { return seen.0 };
    let client = anonymous.with_token(token);
    let me = call(client.request(Method::GET, "/api/v1/auth/me")).await;
    seen.push("me", &me, mask(&me.body));

    let created = call(client.request(Method::POST, "/api/v1/chats").json(&json!({"title": "Replay chat"}))).await;
    seen.push("create-chat", &created, mask(&created.body));
    let chat = created.body["chat"]["id"].as_str().unwrap_or_default().to_owned();

    let path = format!("/api/v1/chats/{chat}/messages");
    let sent = call(client.request(Method::POST, &path).json(&text_message("hello replay world"))).await;
    seen.push("send", &sent, stream_shape(&sent.text));
    let answer = answer_id(&sent.text).unwrap_or_default();

    let read = call(client.request(Method::GET, &format!("/api/v1/chats/{chat}"))).await;
    seen.push("read-chat", &read, mask(&read.body));
    let list = call(client.request(Method::GET, "/api/v1/chats?limit=20")).await;
    seen.push("list-history", &list, mask(&list.body));

    let vote_path = format!("/api/v1/chats/{chat}/messages/{answer}/vote");
    let vote = call(client.request(Method::PUT, &vote_path).json(&json!({"type": "up"}))).await;
    seen.push("vote", &vote, mask(&vote.body));
    let votes = call(client.request(Method::GET, &format!("/api/v1/chats/{chat}/votes"))).await;
    seen.push("votes", &votes, mask(&votes.body));

    let first = json!({"title": "Replay document", "content": "First version.", "kind": "text"});
    let saved = call(client.request(Method::POST, "/api/v1/documents").json(&first)).await;
    seen.push("save-document", &saved, mask(&saved.body));
    let document = saved.body["document"]["id"].as_str().unwrap_or_default().to_owned();
    let second = json!({"id": document, "title": "Replay document", "content": "Second version.", "kind": "text"});
    let saved = call(client.request(Method::POST, "/api/v1/documents").json(&second)).await;
    seen.push("save-document-again", &saved, mask(&saved.body));
    let versions = call(client.request(Method::GET, &format!("/api/v1/documents/{document}"))).await;
    seen.push("document-versions", &versions, mask(&versions.body));

    let form = reqwest::multipart::Form::new().part("file", png_part("replay.png")).text("chatId", chat.clone());
    let uploaded = call(client.request(Method::POST, "/api/v1/files/upload").multipart(form)).await;
    seen.push("upload", &uploaded, mask(&uploaded.body));
    let file = uploaded.body["id"].as_str().unwrap_or_default();
    let downloaded = call(client.request(Method::GET, &format!("/api/v1/files/{file}/content"))).await;
    let same_bytes = downloaded.bytes == PNG.len() as u64;
    seen.push("download", &downloaded, json!({"bytes": downloaded.bytes, "sameBytes": same_bytes}));

    let nobody = uuid::Uuid::new_v4();
    let missing = call(client.request(Method::GET, &format!("/api/v1/chats/{nobody}"))).await;
    seen.push("read-missing-chat", &missing, Value::Null);
    let bad = call(client.request(Method::POST, &path).json(&json!({}))).await;
    seen.push("send-without-message", &bad, Value::Null);
    let deleted = call(client.request(Method::DELETE, &format!("/api/v1/chats/{chat}"))).await;
    seen.push("delete-chat", &deleted, mask(&deleted.body));
    let gone = call(client.request(Method::GET, &format!("/api/v1/chats/{chat}"))).await;
    seen.push("read-deleted-chat", &gone, Value::Null);
    seen.0
}

struct Seen(Vec<Observation>);

impl Seen {
    fn push(&mut self, step: &str, reply: &Reply, value: Value) {
        self.0.push(Observation { step: step.into(), status: reply.status, value: with_code(reply, value) });
    }
}

/// The steps whose observations differ, in order; a step only one side reached counts too.
pub fn compare(a: &[Observation], b: &[Observation]) -> Vec<Difference> {
    let mut differences = Vec::new();
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                let at =
                    if x.status != y.status { "status".to_owned() } else { first_difference(&x.value, &y.value, "") };
                differences.push(Difference { step: x.step.clone(), at, a: observed(x), b: observed(y) });
            }
            (x, y) => differences.push(Difference {
                step: x.or(y).map(|o| o.step.clone()).unwrap_or_default(),
                at: "missing".into(),
                a: x.map_or(Value::Null, observed),
                b: y.map_or(Value::Null, observed),
            }),
        }
    }
    differences
}

fn observed(o: &Observation) -> Value {
    json!({"status": o.status, "value": o.value})
}

/// A JSON pointer to the first place `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<_> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                if x.get(key) != y.get(key) {
                    return first_difference(
                        x.get(key).unwrap_or(&Value::Null),
                        y.get(key).unwrap_or(&Value::Null),
                        &format!("{at}/{key}"),
                    );
                }
            }
            at.to_owned()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (p, q))| p != q)
            .map_or_else(|| at.to_owned(), |(i, (p, q))| first_difference(p, q, &format!("{at}/{i}"))),
        _ => {
            if at.is_empty() {
                "/".to_owned()
            } else {
                at.to_owned()
            }
        }
    }
}

fn with_code(reply: &Reply, value: Value) -> Value {
    match &reply.code {
        Some(code) if reply.status >= 400 => json!({"code": code}),
        _ => value,
    }
}

/// Values that differ by nature between two servers: masked by the name of their field. A
/// file's `downloadUrl` (and its expiry) is left out: the API gives one only where the storage signs URLs (S3,
/// R2), a difference the contract allows.
fn mask(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let masked: Map<String, Value> = map
                .iter()
                .filter(|(key, _)| !key.starts_with("downloadUrl"))
                .map(|(key, value)| {
                    let placeholder = match key.as_str() {
                        "id" => Some("<id>"),
                        k if k.ends_with("Id") => Some("<id>"),
                        k if k.ends_with("At") => Some("<time>"),
                        "token" => Some("<token>"),
                        "email" => Some("<email>"),
                        "url" => Some("<url>"),
                        _ => None,
                    };
                    let value = match (placeholder, value) {
                        (_, Value::Null) => Value::Null,
                        (Some(p), _) => Value::from(p),
                        (None, v) => mask(v),
                    };
                    (key.clone(), value)
                })
                .collect();
            Value::Object(masked)
        }
        Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
        other => other.clone(),
    }
}

/// An answer's stream as observed: its chunk types (repeats collapsed) and its text.
fn stream_shape(stream: &str) -> Value {
    let mut types: Vec<String> = Vec::new();
    let mut text = String::new();
    for data in stream.lines().filter_map(|line| line.strip_prefix("data: ")) {
        let Ok(chunk) = serde_json::from_str::<Value>(data) else { continue };
        let kind = chunk["type"].as_str().unwrap_or_default().to_owned();
        if kind == "text-delta" {
            text.push_str(chunk["delta"].as_str().unwrap_or_default());
        }
        if types.last() != Some(&kind) {
            types.push(kind);
        }
    }
    json!({"chunkTypes": types, "text": text})
}
