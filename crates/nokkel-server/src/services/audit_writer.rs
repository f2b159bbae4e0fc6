//! The audit log's writer: events are appended by one task in batches, so a busy server
//! writes one statement per batch instead of one per event, and no request waits for it.
//!
//! An event is queued the moment the action it records has happened. What a crash can
//! lose is the batch being gathered (events of the last [`LINGER`], or of one write's
//! duration under load); the actions
//! themselves are already stored. [`AuditWriter::flush`] waits until everything queued
//! before it is written — for shutdown, and for readers that must see their own events.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout_at, Instant};

use crate::store::{NewAuditEvent, Store};

/// Most events written in one statement (5 parameters each, far below every backend's
/// parameter limit).
const MAX_BATCH: usize = 200;
/// How long the writer gathers events after the first before writing them: one login's
/// events (started, approved, code issued, token issued) arrive within a few
/// milliseconds, and become one write instead of four.
const LINGER: Duration = Duration::from_millis(5);

enum Message {
    Event(NewAuditEvent),
    Flush(oneshot::Sender<()>),
}

/// Queues audit events for the writer task. Cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::UnboundedSender<Message>,
}

impl AuditWriter {
    /// Starts the writer task on the current Tokio runtime; it ends when the last
    /// `AuditWriter` is dropped, after writing what was queued.
    pub fn spawn(store: Store) -> Self {
        let (queue, mut inbox) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            let mut flushed = Vec::new();
            while let Some(first) = inbox.recv().await {
                let deadline = Instant::now() + LINGER;
                let mut next = Some(first);
                while let Some(message) = next {
                    match message {
                        Message::Event(event) => batch.push(event),
                        Message::Flush(done) => flushed.push(done),
                    }
                    // Someone waits (flush), or the batch is full: write now.
                    next = if batch.len() < MAX_BATCH && flushed.is_empty() {
                        timeout_at(deadline, inbox.recv()).await.ok().flatten()
                    } else {
                        None
                    };
                }
                write(&store, &mut batch).await;
                for done in flushed.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        Self { queue }
    }

    /// Queues `event`. Never waits.
    pub fn append(&self, event: NewAuditEvent) {
        if let Err(mpsc::error::SendError(Message::Event(event))) =
            self.queue.send(Message::Event(event))
        {
            tracing::error!(event = %event.event, "audit writer stopped; event not stored");
        }
    }

    /// Waits until every event queued before this call is written (or failed and logged).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write(store: &Store, batch: &mut Vec<NewAuditEvent>) {
    if batch.is_empty() {
        return;
    }
    if let Err(err) = store.append_audit_batch(batch).await {
        // The events were logged as they happened (target "audit"); the table misses them.
        tracing::error!(error = %err, events = batch.len(), "audit events could not be stored");
    }
    batch.clear();
}
