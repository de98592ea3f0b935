//! The HTTP/1.1 server loop: accepts connections up to a cap, serves each
//! with hyper, and closes those that hold a slot without using it.
//!
//! A connection is in one of three phases, and each has its limit:
//! - waiting for a request (just opened, or kept alive after an answer): a
//!   new connection must start its request within the header timeout, a
//!   kept-alive one within the keep-alive timeout;
//! - reading a request's head, from its first byte: the whole head must
//!   arrive within the header timeout (a client sending a header line every
//!   few seconds is cut off);
//! - answering: the request timeout of the application applies, and an
//!   answer a client stops reading counts as waiting from its last byte
//!   written.
//!
//! Beyond the cap, a new connection is answered 503 at once and closed:
//! a flood of slow clients cannot make a normal client wait.

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// How long connections may take, and how many may be open.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A new connection must send its first request's head, and any
    /// request its head, within this long.
    pub header_timeout: Duration,
    /// A kept-alive connection waiting for its next request (or a client
    /// that stopped reading an answer) is closed after this long.
    pub keep_alive_timeout: Duration,
    /// Connections open at once at most; more are refused at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

/// What the connection loop counts, for `/metrics`.
#[derive(Debug, Default, Clone)]
pub struct ConnectionCounts {
    /// Connections open now.
    pub open: Gauge,
    /// Connections refused because the cap was reached.
    pub refused: Counter,
    /// Connections closed because a client was too slow or idle too long.
    pub timed_out: Counter,
}

/// The answer to a connection beyond the cap, written without waiting.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 81\r\n\r\n\
{\"code\":\"overloaded\",\"message\":\"too many open connections; try again shortly\"}";

/// Serves `app` on `listener` until `shutdown` completes; then stops
/// accepting, lets every connection finish its request in flight (idle ones
/// close at once), and returns when all are closed.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    counts: ConnectionCounts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset while
                    // queued: wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            counts.refused.inc();
            let _ = stream.try_write(REFUSAL);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let counts = counts.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            counts.open.inc();
            if serve_connection(stream, peer, app, limits, stopped).await {
                counts.timed_out.inc();
            }
            counts.open.dec();
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every slot back means every connection closed.
    let _ = slots
        .acquire_many(u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

/// Serves one connection; returns whether it was closed for taking too long.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    limits: ConnectionLimits,
    mut stopped: watch::Receiver<bool>,
) -> bool {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let on_request = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        on_request.answering();
        let app = app.clone();
        let activity = on_request.clone();
        async move {
            let response = app.oneshot(request.map(axum::body::Body::new)).await;
            activity.waiting();
            response
        }
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        let check_at = activity.deadline(&limits);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::trace!(%error, "connection ended");
                }
                return false;
            }
            () = tokio::time::sleep_until(check_at) => {
                if activity.deadline(&limits) <= Instant::now() {
                    // Dropping the connection closes the socket.
                    return true;
                }
            }
            changed = stopped.changed(), if !draining => {
                if changed.is_err() || *stopped.borrow() {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The phases of a connection.
const NEW: u8 = 0;
const WAITING: u8 = 1;
const READING_HEAD: u8 = 2;
const ANSWERING: u8 = 3;

/// Where a connection stands, shared by its socket and its service.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    phase: AtomicU8,
    /// When the phase began (or, while waiting, the last byte written),
    /// in milliseconds since `epoch`.
    since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            epoch: Instant::now(),
            phase: AtomicU8::new(NEW),
            since_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn enter(&self, phase: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// A request's head is complete: the application has it.
    fn answering(&self) {
        self.enter(ANSWERING);
    }

    /// The application answered: waiting for the next request.
    fn waiting(&self) {
        self.enter(WAITING);
    }

    /// Bytes arrived: the first of a request starts its head.
    fn read(&self) {
        let phase = self.phase.load(Ordering::Relaxed);
        if phase == NEW || phase == WAITING {
            self.enter(READING_HEAD);
        }
    }

    /// Bytes left: an answer still being taken keeps the connection alive.
    fn wrote(&self) {
        if self.phase.load(Ordering::Relaxed) == WAITING {
            self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// When the connection is due to close unless something happens;
    /// while answering, when to look again.
    fn deadline(&self, limits: &ConnectionLimits) -> Instant {
        let since = self.epoch + Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        match self.phase.load(Ordering::Relaxed) {
            NEW | READING_HEAD => since + limits.header_timeout,
            WAITING => since + limits.keep_alive_timeout,
            _ => Instant::now() + limits.header_timeout.min(limits.keep_alive_timeout),
        }
    }
}

/// A socket that tells its connection's [`Activity`] when bytes move.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
