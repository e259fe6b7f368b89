//! The accept loop. axum's own `serve` sets no header-read timeout and takes every connection
//! it can: 1,100 half-open connections from one client (headers never finished) exhausted the
//! open files and every other request timed out. Here each connection is HTTP/1.1 through hyper
//! with a timer, so one that does not deliver a request's headers in time (after opening, or
//! idling after a response) is closed; and at most `max_connections` are served at once, the
//! rest waiting in the kernel's listen backlog rather than failing `accept`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

/// How long a stop waits for open connections (streams being followed, say) to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The per-connection limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their current request (for at most [`SHUTDOWN_GRACE`]).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping, stop) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                tokio::spawn(connection(tcp, peer, router.clone(), limits, slot, stop.clone()));
            }
            Err(err) => {
                // Out of file descriptors, or a connection reset before it was accepted: back off
                // a moment instead of spinning; the slot goes back with `slot`.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await.is_err() {
        tracing::info!("stopping with connections still open after {} s", SHUTDOWN_GRACE.as_secs());
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    _slot: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    // No Nagle: an SSE chunk must leave at once, not wait for the previous one's ACK.
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(error = %err, "could not set TCP_NODELAY");
    }
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper arms this timer whenever it starts reading a request head: right after the
    // connection opens and again each time a keep-alive connection goes idle.
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let conn = http.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        }
        // (The guard `wait_for` returns is not `Send`: drop it inside.)
        _ = async { stop.wait_for(|stopping| *stopping).await.is_ok() } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Raises the soft open-files limit towards what `max_connections` needs (each connection is
/// one descriptor; the backends and files take some more) and returns the number of
/// connections that fits.
pub(crate) fn fit_connection_cap(max_connections: usize) -> usize {
    const RESERVED: u64 = 512;
    let wanted = max_connections as u64 + RESERVED;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => {
            let fits = limit.saturating_sub(RESERVED).max(64) as usize;
            tracing::warn!(
                open_files = limit,
                max_connections = fits,
                "the open-files limit is below what max_connections needs; serving fewer connections at once"
            );
            fits
        }
        Ok(_) => max_connections,
        Err(err) => {
            tracing::warn!(error = %err, "could not read or raise the open-files limit");
            max_connections
        }
    }
}
