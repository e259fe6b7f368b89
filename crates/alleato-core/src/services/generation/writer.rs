//! A generation's writer to its stream, with at most one write in flight: chunks that arrive
//! while a write is on its way to the store gather into the next, written with one
//! `append_many`. The first chunk goes at once and no chunk waits for more than the write ahead
//! of it, while a fast model on a remote store (Redis) costs one round trip per batch rather than
//! per chunk. The writer runs inside the job's own task, driven by [`StreamWriter::progress`]:
//! on an in-process store a write completes as it is first polled, so chunks go one by one and
//! the model waits for each, as the store's own back-pressure expects.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::ports::StreamStore;

/// The most chunks in one write: bounds one request's size.
const MAX_BATCH: usize = 256;

pub(super) struct StreamWriter {
    streams: Arc<dyn StreamStore>,
    id: Arc<str>,
    ttl: Duration,
    queued: Vec<Vec<u8>>,
    in_flight: Option<BoxFuture<'static, ()>>,
}

impl StreamWriter {
    pub fn new(streams: Arc<dyn StreamStore>, id: String, ttl: Duration) -> Self {
        Self { streams, id: id.into(), ttl, queued: Vec::new(), in_flight: None }
    }

    /// Queues a chunk, written after every chunk queued before it; it starts moving at the next
    /// [`StreamWriter::progress`] or [`StreamWriter::flush`].
    pub fn write(&mut self, chunk: Vec<u8>) {
        self.queued.push(chunk);
        if self.in_flight.is_none() {
            self.start_next();
        }
    }

    fn start_next(&mut self) {
        if self.queued.is_empty() {
            return;
        }
        let rest = self.queued.split_off(self.queued.len().min(MAX_BATCH));
        let batch = std::mem::replace(&mut self.queued, rest);
        let (streams, id, ttl) = (self.streams.clone(), self.id.clone(), self.ttl);
        self.in_flight = Some(
            async move {
                if let Err(err) = streams.append_many(&id, &batch, ttl).await {
                    tracing::warn!(stream = %id, error = %err, chunks = batch.len(), "could not append to the generation stream");
                }
            }
            .boxed(),
        );
    }

    /// Completes when the write in flight is done, and starts the next; never, when there is
    /// nothing to write. Cancel-safe: dropping it leaves the write in flight to the next call.
    pub async fn progress(&mut self) {
        match &mut self.in_flight {
            Some(write) => {
                write.await;
                self.in_flight = None;
                self.start_next();
            }
            None => std::future::pending().await,
        }
    }

    /// Writes everything queued so far.
    pub async fn flush(&mut self) {
        while self.in_flight.is_some() {
            self.progress().await;
        }
    }
}
