//! A generation's writer to its stream: chunks are handed over without waiting, and written in
//! order by a task of its own, one `append_many` per batch. While one batch is on its way to the
//! store, the chunks that arrive meanwhile gather into the next: a chunk never waits for more
//! than the write in flight, so the first goes at once and followers see every chunk within one
//! round trip, while a fast model costs one round trip per batch rather than per chunk.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::ports::StreamStore;

/// The most chunks in one write: bounds one request's size.
const MAX_BATCH: usize = 256;

pub(super) struct StreamWriter {
    chunks: mpsc::UnboundedSender<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl StreamWriter {
    pub fn start(streams: Arc<dyn StreamStore>, id: String, ttl: Duration) -> Self {
        let (chunks, mut pending) = mpsc::unbounded_channel::<Vec<u8>>();
        let task = tokio::spawn(async move {
            let mut batch = Vec::new();
            while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
                if let Err(err) = streams.append_many(&id, &batch, ttl).await {
                    tracing::warn!(stream = %id, error = %err, chunks = batch.len(), "could not append to the generation stream");
                }
                batch.clear();
            }
        });
        Self { chunks, task }
    }

    /// Queues a chunk; it is written after every chunk queued before it.
    pub fn write(&self, chunk: Vec<u8>) {
        // The task ends only once every sender is gone, or if it panicked (then nothing more
        // can be written, as before when an append failed).
        let _ = self.chunks.send(chunk);
    }

    /// Waits until every queued chunk is written (or failed to be).
    pub async fn close(self) {
        drop(self.chunks);
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "the generation stream's writer failed");
        }
    }
}
