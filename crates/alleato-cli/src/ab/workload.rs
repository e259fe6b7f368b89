//! The workload `alleato ab` runs on both sides: which operations, in what mix, by how many
//! workers, for how long. A TOML file overrides any part of the default (`Workload::default()`).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One kind of request the workload makes; its name is the report's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// `POST /auth/guest`.
    Guest,
    /// `POST /auth/register` (a password hash: deliberately slow).
    Register,
    /// `POST /chats`.
    CreateChat,
    /// `POST /chats/{id}/messages`, read to the end of the answer.
    Send,
    /// `GET /chats?limit=20`.
    ListHistory,
    /// `GET /chats/{id}`.
    ReadChat,
    /// `PUT /chats/{id}/messages/{id}/vote`.
    Vote,
    /// `POST /documents`: a new version of a document.
    SaveDocument,
    /// `POST /files/upload`.
    Upload,
    /// `GET /files/{id}/content`.
    Download,
    /// `GET /chats/{id}/stream?cursor=n` on an answer being generated, read to its end.
    Resume,
    /// `POST /chats/{id}/stop` on an answer being generated.
    Stop,
}

impl Operation {
    /// Every operation, in the report's order.
    pub const ALL: [Operation; 12] = [
        Operation::Guest,
        Operation::Register,
        Operation::CreateChat,
        Operation::Send,
        Operation::ListHistory,
        Operation::ReadChat,
        Operation::Vote,
        Operation::SaveDocument,
        Operation::Upload,
        Operation::Download,
        Operation::Resume,
        Operation::Stop,
    ];

    /// The operation's name in the mix and the report (kebab-case, e.g. `create-chat`).
    pub fn name(self) -> &'static str {
        match self {
            Operation::Guest => "guest",
            Operation::Register => "register",
            Operation::CreateChat => "create-chat",
            Operation::Send => "send",
            Operation::ListHistory => "list-history",
            Operation::ReadChat => "read-chat",
            Operation::Vote => "vote",
            Operation::SaveDocument => "save-document",
            Operation::Upload => "upload",
            Operation::Download => "download",
            Operation::Resume => "resume",
            Operation::Stop => "stop",
        }
    }

    /// The method and route template the operation's measured request goes to (as `/metrics`
    /// labels it).
    pub fn route(self) -> (&'static str, &'static str) {
        match self {
            Operation::Guest => ("POST", "/api/v1/auth/guest"),
            Operation::Register => ("POST", "/api/v1/auth/register"),
            Operation::CreateChat => ("POST", "/api/v1/chats"),
            Operation::Send => ("POST", "/api/v1/chats/:id/messages"),
            Operation::ListHistory => ("GET", "/api/v1/chats"),
            Operation::ReadChat => ("GET", "/api/v1/chats/:id"),
            Operation::Vote => ("PUT", "/api/v1/chats/:id/messages/:message_id/vote"),
            Operation::SaveDocument => ("POST", "/api/v1/documents"),
            Operation::Upload => ("POST", "/api/v1/files/upload"),
            Operation::Download => ("GET", "/api/v1/files/:id/content"),
            Operation::Resume => ("GET", "/api/v1/chats/:id/stream"),
            Operation::Stop => ("POST", "/api/v1/chats/:id/stop"),
        }
    }
}

/// The workload: every field optional in a file (`--workload FILE`); the command line's
/// `--duration`, `--rounds` and `--concurrency` override the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// Measured seconds per round and side.
    pub duration_secs: f64,
    /// Unmeasured seconds before each measured phase (connections, caches, JIT of the backends).
    pub warmup_secs: f64,
    /// Rounds, each running A then B, so drift of the machine falls on both alike.
    pub rounds: u32,
    /// Workers making requests at once, each with its own session and chats.
    pub concurrency: u32,
    /// Of the workers, the share that signs in as guests (the rest register).
    pub guest_share: f64,
    /// Relative weight of each operation (0 leaves it out).
    pub mix: Mix,
}

/// Weights by operation name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Mix {
    pub guest: u32,
    pub register: u32,
    pub create_chat: u32,
    pub send: u32,
    pub list_history: u32,
    pub read_chat: u32,
    pub vote: u32,
    pub save_document: u32,
    pub upload: u32,
    pub download: u32,
    pub resume: u32,
    pub stop: u32,
}

impl Mix {
    pub fn weight(&self, operation: Operation) -> u32 {
        match operation {
            Operation::Guest => self.guest,
            Operation::Register => self.register,
            Operation::CreateChat => self.create_chat,
            Operation::Send => self.send,
            Operation::ListHistory => self.list_history,
            Operation::ReadChat => self.read_chat,
            Operation::Vote => self.vote,
            Operation::SaveDocument => self.save_document,
            Operation::Upload => self.upload,
            Operation::Download => self.download,
            Operation::Resume => self.resume,
            Operation::Stop => self.stop,
        }
    }
}

impl Default for Mix {
    /// Reads outnumber writes, as in a chat app; every operation appears.
    fn default() -> Self {
        Self {
            guest: 2,
            register: 1,
            create_chat: 4,
            send: 10,
            list_history: 16,
            read_chat: 16,
            vote: 6,
            save_document: 6,
            upload: 3,
            download: 6,
            resume: 3,
            stop: 2,
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Self { duration_secs: 10.0, warmup_secs: 1.0, rounds: 2, concurrency: 8, guest_share: 0.5, mix: Mix::default() }
    }
}

impl Workload {
    /// The workload in `path`, over the defaults, checked; without a path, the default. A
    /// missing file, an unknown key or a value out of range is an error.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        use figment::providers::{Format, Toml};
        let Some(path) = path else { return Ok(Self::default()) };
        // Figment reads a missing file as empty: say so instead.
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        let workload: Self = figment::Figment::from(Toml::file_exact(path))
            .extract()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        workload.check()?;
        Ok(workload)
    }

    /// Refuses values out of range (duration, warm-up, rounds, concurrency, guest share) and a
    /// mix that leaves every operation out.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.duration_secs > 0.0 && self.duration_secs <= 86_400.0, "duration must be 0 to 86400 s");
        anyhow::ensure!(self.warmup_secs >= 0.0 && self.warmup_secs <= 3_600.0, "warm-up must be 0 to 3600 s");
        anyhow::ensure!((1..=100).contains(&self.rounds), "rounds must be 1 to 100");
        anyhow::ensure!((1..=1024).contains(&self.concurrency), "concurrency must be 1 to 1024");
        anyhow::ensure!((0.0..=1.0).contains(&self.guest_share), "guest_share must be 0 to 1");
        anyhow::ensure!(Operation::ALL.iter().any(|op| self.mix.weight(*op) > 0), "the mix has no operation");
        Ok(())
    }

    /// The measured time per round and side.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_secs)
    }

    /// The unmeasured time before each measured phase.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_secs)
    }
}

/// `10s`, `1.5s`, `500ms`, `2m`, or plain seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().with_context(|| format!("`{text}` is not a duration (say 10s)"))?;
    anyhow::ensure!(value.is_finite() && value > 0.0, "`{text}` is not a positive duration");
    Ok(value * scale)
}
