//! Checkpoints that keep the SQLite write-ahead log from growing without end.
//!
//! # Why
//!
//! SQLite appends every commit to the write-ahead log and copies the log back into the
//! database file at a checkpoint. The log starts again from its beginning only when a
//! writer finds it wholly copied back and no reader still using it. A `PASSIVE`
//! checkpoint never waits, so under a steady stream of logins there is always a commit
//! landing while it copies, and that moment never comes: measured at 8 logins in
//! flight, the log grew by about 90 MB a second for as long as the load lasted, and
//! every commit paid for new file blocks (ext4 allocating and zeroing them) instead of
//! rewriting cached ones (docs/PERFORMANCE.md).
//!
//! # How
//!
//! Every [`super::CHECKPOINT_INTERVAL`], `nokkel serve` first copies back what it can
//! without holding anyone up (`PASSIVE`), then takes the write lock and finishes the
//! copy (`RESTART`): that waits until the readers of older snapshots are done, and
//! leaves the log to be restarted by the next commit. Writers wait meanwhile, while it
//! copies the pages written since the first step and syncs both files (8–13 ms at a
//! thousand logins a second on the 2-core test machine). The wait is bounded by
//! [`CHECKPOINT_PATIENCE`]: a long reader makes the checkpoint give up (and the log grow)
//! rather than stall every login behind it, and the next tick tries again.
//!
//! The checkpoint runs on a connection of its own, on a blocking thread (it waits
//! inside SQLite, which no Tokio worker may do). `journal_size_limit` on every connection
//! trims the restarted log back to [`WAL_SIZE_LIMIT`] after a burst.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::StoreError;

/// How long a checkpoint waits for the writer and for older readers before it gives up.
pub(crate) const CHECKPOINT_PATIENCE: Duration = Duration::from_millis(250);

/// The size a restarted write-ahead log is trimmed back to (`journal_size_limit`).
pub(crate) const WAL_SIZE_LIMIT: u64 = 128 * 1024 * 1024;

/// What a checkpoint found and did.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    /// Frames (changed pages) in the write-ahead log when the checkpoint began.
    pub frames: u64,
    /// Whether the whole log was copied back and will be started again by the next
    /// commit. `false` when a reader or writer held on past [`CHECKPOINT_PATIENCE`].
    pub restarted: bool,
    /// How long the second step held the write lock (and so any writer waiting).
    pub held: Duration,
}

/// A connection of its own for checkpoints, used on a blocking thread.
pub(crate) struct Checkpointer {
    conn: Mutex<Connection>,
}

impl Checkpointer {
    /// Opens `path`, which the pool has already created and put in WAL mode.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = super::direct::open_connection(path, CHECKPOINT_PATIENCE)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Copies the log back without waiting, then with the write lock until it is all
    /// copied and no reader uses it. Blocks for up to about twice [`CHECKPOINT_PATIENCE`]:
    /// call it off the async workers.
    pub(crate) fn run(&self) -> Result<Checkpoint, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, frames) = wal_checkpoint(&conn, "PASSIVE")?;
        let started = Instant::now();
        let (busy, _) = wal_checkpoint(&conn, "RESTART")?;
        Ok(Checkpoint {
            frames,
            restarted: !busy,
            held: started.elapsed(),
        })
    }
}

/// Runs `PRAGMA wal_checkpoint(mode)`: whether it was kept from finishing, and the
/// frames in the log.
fn wal_checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(bool, u64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        let busy: i64 = row.get(0)?;
        let frames: i64 = row.get(1)?;
        Ok((busy != 0, u64::try_from(frames).unwrap_or(0)))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::Connection;

    use super::wal_checkpoint;
    use crate::store::{NewAuditEvent, Pool, Store};

    fn file_of(store: &Store) -> std::path::PathBuf {
        let Pool::Sqlite(pool) = &store.pool else {
            panic!("a SQLite store")
        };
        pool.connect_options().get_filename().to_owned()
    }

    fn events(count: usize) -> Vec<NewAuditEvent> {
        (0..count)
            .map(|n| NewAuditEvent {
                at: 1,
                event: format!("event {n}"),
                pid: None,
                client_ip: None,
                detail: "x".repeat(500),
            })
            .collect()
    }

    /// A reader holds an old snapshot while more is written, and lets go soon after the
    /// checkpoint begins: the state a busy server is always in. The checkpoint must wait
    /// for it and leave the log to be restarted, so the next commit writes from the
    /// log's beginning. (A checkpoint that only copies what it can without waiting leaves
    /// the log to grow: the next commit lands after the frames already there.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checkpoint_restarts_the_log_once_an_older_reader_is_done() {
        let store = Store::sqlite_temp().await.unwrap();
        store.migrate().await.unwrap();
        let path = file_of(&store);
        store.append_audit_batch(&events(50)).await.unwrap();

        let reader = Connection::open(&path).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM audit_log;")
            .unwrap();
        store.append_audit_batch(&events(50)).await.unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            reader.execute_batch("COMMIT").unwrap();
        });

        let checkpoint = store.checkpoint().await.unwrap().unwrap();
        release.join().unwrap();
        assert!(checkpoint.frames > 10, "{checkpoint:?}");
        assert!(checkpoint.restarted, "{checkpoint:?}");

        store.append_audit_batch(&events(1)).await.unwrap();
        let probe = Connection::open(&path).unwrap();
        let (_, frames) = wal_checkpoint(&probe, "PASSIVE").unwrap();
        assert!(
            frames < checkpoint.frames / 2,
            "the commit after the checkpoint went to frame {frames}, after {} old ones",
            checkpoint.frames
        );
    }

    /// A reader that holds on past the checkpoint's patience is not waited for longer:
    /// the checkpoint reports the log as not restarted, and writers were held up for no
    /// more than that patience.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checkpoint_gives_up_on_a_long_reader() {
        let store = Store::sqlite_temp().await.unwrap();
        store.migrate().await.unwrap();
        let path = file_of(&store);
        store.append_audit_batch(&events(10)).await.unwrap();
        let reader = Connection::open(&path).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM audit_log;")
            .unwrap();
        store.append_audit_batch(&events(10)).await.unwrap();

        let checkpoint = store.checkpoint().await.unwrap().unwrap();
        assert!(!checkpoint.restarted, "{checkpoint:?}");
        reader.execute_batch("COMMIT").unwrap();
        // Writers go on once the checkpoint has given up.
        store.append_audit_batch(&events(1)).await.unwrap();
    }
}
