//! The page-view writer: one task that group-commits. Each beacon's handler
//! queues its page view and waits; the task takes everything queued, stores
//! it in one transaction and then answers every waiter. Under load batches
//! grow by themselves (whatever arrived during the last commit goes into the
//! next), so throughput rises without adding latency when idle.
//!
//! The queue is bounded: when it is full the beacon is refused at once
//! (503) instead of memory growing without end. On shutdown the queue is
//! closed and drained: nothing queued is dropped unanswered.

use sightline_core::rum::PageView;
use sightline_store::{BackendKind, Store};
use tokio::sync::{mpsc, oneshot};

/// Why a page view was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The queue is full: the database is not keeping up.
    #[error("the page-view queue is full")]
    QueueFull,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// The database refused or failed the batch.
    #[error("the page views could not be stored: {0}")]
    Store(String),
}

struct Pending {
    page_view: PageView,
    stored: oneshot::Sender<Result<(), WriteError>>,
}

/// The handle beacons are written through. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PageViewWriter {
    queue: mpsc::Sender<Pending>,
    shutdown: mpsc::Sender<()>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("site_id", &self.page_view.site_id)
            .finish()
    }
}

/// The running writer task; await it after [`PageViewWriter::close`].
pub type WriterTask = tokio::task::JoinHandle<()>;

impl PageViewWriter {
    /// Starts the writer on `store` with room for `capacity` queued page
    /// views and at most `max_batch` per transaction.
    pub fn spawn(store: Store, capacity: usize, max_batch: usize) -> (Self, WriterTask) {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        let (shutdown, shutdown_signal) = mpsc::channel(1);
        let kind = store.kind();
        let writing = run(store, receiver, shutdown_signal, max_batch.max(1));
        let task = match kind {
            // On SQLite batches are written on this thread (see
            // `Store::page_view_batches`), and the writer pool's one
            // connection, held meanwhile, goes back to its pool on a task of
            // its own: on the server's runtime, under load, that task waits
            // behind every request handler and the next batch waits for it.
            // On a runtime of its own the writer gets its turn back at once.
            BackendKind::Sqlite => tokio::task::spawn_blocking(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(writing),
                    // The queue's receiver is dropped with `writing`: beacons
                    // are refused as if the server were shutting down.
                    Err(error) => tracing::error!(%error, "cannot start the page-view writer"),
                }
            }),
            BackendKind::Postgres => tokio::spawn(writing),
        };
        (Self { queue, shutdown }, task)
    }

    /// Stores a page view; returns once it is committed.
    pub async fn write(&self, page_view: PageView) -> Result<(), WriteError> {
        let (stored, answer) = oneshot::channel();
        self.queue
            .try_send(Pending { page_view, stored })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => WriteError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => WriteError::Closed,
            })?;
        answer.await.unwrap_or(Err(WriteError::Closed))
    }

    /// Stops taking page views; the task commits what is queued and ends.
    pub fn close(&self) {
        let _ = self.shutdown.try_send(());
    }
}

async fn run(
    store: Store,
    mut queue: mpsc::Receiver<Pending>,
    mut shutdown: mpsc::Receiver<()>,
    max_batch: usize,
) {
    let mut batches = store.page_view_batches();
    let mut closing = false;
    loop {
        let first = if closing {
            queue.recv().await
        } else {
            tokio::select! {
                pending = queue.recv() => pending,
                _ = shutdown.recv() => {
                    queue.close();
                    closing = true;
                    continue;
                }
            }
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let (page_views, waiters): (Vec<PageView>, Vec<_>) = batch
            .into_iter()
            .map(|pending| (pending.page_view, pending.stored))
            .unzip();
        let result = batches.insert(&page_views).await.map_err(|error| {
            tracing::error!(%error, batch = page_views.len(), "storing page views");
            WriteError::Store(error.to_string())
        });
        tracing::trace!(batch = waiters.len(), "committed page views");
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
    tracing::debug!("page-view writer stopped");
}
