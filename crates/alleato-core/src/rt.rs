//! The runtime seam: the little the services need from an async runtime (spawn, sleep, timeout,
//! blocking work, a monotonic clock), chosen by target, not by feature flags: Tokio natively;
//! on `wasm32` (Cloudflare Workers) the JavaScript event loop, where there are no threads, no
//! Tokio runtime and no `std::time::Instant`. Nothing else in this crate names a runtime, so the
//! services compile for both (`cargo xtask wasm-check` keeps it so).

use std::future::Future;
use std::time::Duration;

/// A monotonic clock on every target (`std`'s natively, `performance.now()` on wasm32).
pub use web_time::Instant;

use crate::error::{Error, Result, Surface};

/// The answer of a future that outlived its [`timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `task` in the background, detached: a Tokio task natively, a task on the JavaScript
/// event loop on wasm32 (alive while the request or the Durable Object that started it is).
pub fn spawn<F: Future<Output = ()> + Send + 'static>(task: F) {
    imp::spawn(task);
}

/// Waits for `duration`.
pub fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
    imp::sleep(duration)
}

/// `future`'s output, or [`Elapsed`] once `duration` has passed (the future is dropped).
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    imp::timeout(duration, future).await
}

/// Runs CPU-bound `work` (a password hash) off the async threads where there are threads (Tokio's
/// blocking pool); inline on wasm32, which has one.
pub async fn run_blocking<T: Send + 'static>(surface: Surface, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    imp::run_blocking(work).await.map_err(|e| Error::backend(surface, e))
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;

    pub fn spawn<F: Future<Output = ()> + Send + 'static>(task: F) {
        drop(tokio::spawn(task));
    }

    pub fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
        tokio::time::timeout(duration, future).await.map_err(|_| Elapsed)
    }

    pub async fn run_blocking<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        tokio::task::spawn_blocking(work).await
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use futures::future::{Either, select};

    use super::*;

    pub fn spawn<F: Future<Output = ()> + Send + 'static>(task: F) {
        wasm_bindgen_futures::spawn_local(task);
    }

    /// `setTimeout` behind a future. A JavaScript future is not `Send`, but wasm32 has one
    /// thread: `SendWrapper` says so to the type system (and would panic if that ever changed).
    pub fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        send_wrapper::SendWrapper::new(gloo_timers::future::sleep(duration))
    }

    pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
        let (future, deadline) = (std::pin::pin!(future), std::pin::pin!(sleep(duration)));
        match select(future, deadline).await {
            Either::Left((output, _)) => Ok(output),
            Either::Right(((), _)) => Err(Elapsed),
        }
    }

    /// One thread: the work runs here, and cannot fail to be run.
    pub async fn run_blocking<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, std::convert::Infallible> {
        Ok(work())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timeout_answers_the_output_or_elapsed() {
        assert_eq!(timeout(Duration::from_secs(5), async { 7 }).await, Ok(7));
        let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(5))).await;
        assert_eq!(slow, Err(Elapsed));
    }

    #[tokio::test]
    async fn spawned_tasks_and_blocking_work_run() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        spawn(async move {
            drop(tx.send(run_blocking(Surface::Auth, || 6 * 7).await));
        });
        assert_eq!(rx.await.unwrap().unwrap(), 42);
        let started = Instant::now();
        sleep(Duration::from_millis(20)).await;
        assert!(started.elapsed() >= Duration::from_millis(20));
    }
}
