//! Following a stream: replay from a cursor, then live entries as they come, until it finishes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};

use crate::error::{Error, Result, Surface};
use crate::ports::StreamStore;

/// How long one `wait` may block before the follower reads again. Short enough that a follower
/// on another instance notices a finish or delete even if a wake-up is missed.
const WAIT: Duration = Duration::from_secs(10);
const BATCH: usize = 256;
const RETRY_PAUSE: Duration = Duration::from_millis(100);

struct Follower<S: ?Sized> {
    store: Arc<S>,
    id: String,
    cursor: u64,
    buffer: VecDeque<(u64, Vec<u8>)>,
    started: bool,
    ended: bool,
    /// The last read returned everything there was (fewer than a batch): once the buffer is
    /// drained, wait before reading again rather than read an empty slice first.
    caught_up: bool,
    /// ... and the stream was finished then: nothing more will come.
    finished: bool,
}

/// Every entry numbered after `after`, in order, each once; ends when the stream is finished
/// and drained, or has gone. A stream missing at the start is a `NotFound` item.
pub fn follow<S>(store: Arc<S>, id: String, after: u64) -> BoxStream<'static, Result<(u64, Vec<u8>)>>
where
    S: StreamStore + ?Sized,
{
    let state = Follower {
        store,
        id,
        cursor: after,
        buffer: VecDeque::new(),
        started: false,
        ended: false,
        caught_up: false,
        finished: false,
    };
    stream::unfold(state, |mut f| async move {
        loop {
            if let Some(entry) = f.buffer.pop_front() {
                return Some((Ok(entry), f));
            }
            if f.ended || f.finished {
                return None;
            }
            if f.caught_up {
                f.caught_up = false;
                f.wait().await;
            }
            let slice = match f.store.read(&f.id, f.cursor, BATCH).await {
                Ok(Some(slice)) => slice,
                Ok(None) if !f.started => {
                    f.ended = true;
                    return Some((Err(Error::not_found(Surface::Stream)), f));
                }
                // Deleted or expired while followed: end quietly.
                Ok(None) => return None,
                Err(err) => {
                    f.ended = true;
                    return Some((Err(err), f));
                }
            };
            f.started = true;
            if let Some((last, _)) = slice.entries.last() {
                f.cursor = *last;
                f.caught_up = slice.entries.len() < BATCH;
                f.finished = f.caught_up && slice.done;
                f.buffer.extend(slice.entries);
                continue;
            }
            if slice.done {
                return None;
            }
            f.wait().await;
        }
    })
    .boxed()
}

impl<S: StreamStore + ?Sized> Follower<S> {
    async fn wait(&self) {
        if let Err(err) = self.store.wait(&self.id, self.cursor, WAIT).await {
            // Waiting is only an optimisation over reading again: a failed wait (a busy
            // store) degrades to a short pause, and the next read decides.
            tracing::debug!(stream = %self.id, error = %err, "waiting on a stream failed; reading again shortly");
            crate::rt::sleep(RETRY_PAUSE).await;
        }
    }
}
