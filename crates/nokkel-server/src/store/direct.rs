//! SQLite on the caller's own thread, for the statements every login runs.
//!
//! # Why
//!
//! sqlx's SQLite driver gives each connection a thread of its own and hands every
//! statement to it over a channel: a futex wake of that thread, and a wake of the Tokio
//! worker when the answer comes back. On the 2-core VMs the server is measured on, that
//! hand-off cost tens of microseconds of CPU per statement — far more than SQLite's own
//! work for a read by key or a single-row write (5–40 µs) — and a login ran nine of them
//! (docs/PERFORMANCE.md). A statement here runs where it is called: lock the connection,
//! step, unlock.
//!
//! # How
//!
//! A second connection to the same database file ([`rusqlite`], built on the same
//! `libsqlite3-sys` as sqlx), opened the way [`super::Store`] opens its pool (WAL,
//! `synchronous=NORMAL`, foreign keys, no automatic checkpoint, the same log size limit) but with no busy timeout
//! (below). Statements are prepared once and cached. The SQL texts are the ones the PostgreSQL
//! arm runs, `$1`-style placeholders bound by name ([`bind`]), so each query is still
//! written once.
//!
//! Both connections may write; SQLite lets one writer in at a time. While logins run,
//! the writes come from here (a login's outcome, its code, its token, the audit
//! batches); the pool's writes are the rarer ones (orders, enrolments, rate counters).
//! Work here never waits inside SQLite: the connection has no busy timeout, and when
//! the pool holds the write lock (its transactions span `.await`s, and may need this
//! very thread to finish) the work is tried again after a short async sleep, up to the
//! pool's busy timeout in all. The pool's own writes meet this connection's lock only
//! for the length of one synchronous transaction.
//!
//! Only for SQLite files: an in-memory database lives inside its one connection, so
//! there [`super::Store`] has no direct connection and runs every statement on the pool.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, Statement, ToSql};

use super::{StoreError, SQLITE_BUSY_TIMEOUT};

/// How many prepared statements each connection keeps (a login uses about a dozen).
const STATEMENT_CACHE: usize = 64;

/// A connection to the store's SQLite file, used on the calling thread.
pub(crate) struct Direct {
    conn: tokio::sync::Mutex<Connection>,
}

impl Direct {
    /// Opens `path`, which the pool has already created and put in WAL mode.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_connection(path, Duration::ZERO)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            conn: tokio::sync::Mutex::new(conn),
        })
    }

    /// Runs `work` on the connection, on this thread; again after a short sleep while
    /// the pool holds the write lock (`SQLITE_BUSY`), for up to [`SQLITE_BUSY_TIMEOUT`]
    /// of sleeps. `work` is one transaction or one statement, so a busy failure left
    /// nothing behind. A panic inside `work` leaves no transaction open either
    /// ([`Immediate`] rolls back when dropped).
    ///
    /// The connection's lock is Tokio's: a worker that finds another worker's
    /// transaction on the connection goes on with its other tasks rather than putting
    /// its thread to sleep (with two workers under load that sleep and the wake after it
    /// were a measurable part of a login's CPU).
    pub(crate) async fn run<R>(
        &self,
        mut work: impl FnMut(&mut Connection) -> rusqlite::Result<R>,
    ) -> Result<R, StoreError> {
        let mut pause = FIRST_BUSY_PAUSE;
        let mut waited = Duration::ZERO;
        loop {
            let result = {
                let mut conn = self.conn.lock().await;
                work(&mut conn)
            };
            match result {
                Err(error) if is_busy(&error) && waited < SQLITE_BUSY_TIMEOUT => {
                    tokio::time::sleep(pause).await;
                    waited += pause;
                    pause = (pause * 2).min(LAST_BUSY_PAUSE);
                }
                other => return Ok(other?),
            }
        }
    }
}

/// Opens a connection to `path`, which the pool has already created and put in WAL mode,
/// with the pool's settings (`synchronous=NORMAL`, foreign keys, no automatic checkpoint,
/// the log size limit) and `busy_timeout`.
pub(crate) fn open_connection(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0; \
         PRAGMA journal_size_limit = {};",
        super::checkpoint::WAL_SIZE_LIMIT
    ))?;
    Ok(conn)
}

/// The first and the longest pause before trying again while the pool writes.
const FIRST_BUSY_PAUSE: Duration = Duration::from_micros(100);
const LAST_BUSY_PAUSE: Duration = Duration::from_millis(5);

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == rusqlite::ffi::ErrorCode::DatabaseBusy
    )
}

/// Prepares (or takes from the cache) `sql` and binds `args` to its `$1`, `$2`, …
/// placeholders by name: SQLite numbers named parameters in order of first appearance,
/// so `SET state = $3 … WHERE id = $1` would bind wrongly by position.
pub(crate) fn bind<'c>(
    conn: &'c Connection,
    sql: &str,
    args: &[&dyn ToSql],
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut statement = conn.prepare_cached(sql)?;
    bind_all(&mut statement, args)?;
    Ok(statement)
}

fn bind_all(statement: &mut Statement<'_>, args: &[&dyn ToSql]) -> rusqlite::Result<()> {
    for (n, arg) in args.iter().enumerate() {
        // A `$N` the text does not use is skipped, as sqlx skips an unused argument.
        let index = match PLACEHOLDERS.get(n) {
            Some(name) => statement.parameter_index(name)?,
            None => statement.parameter_index(&format!("${}", n + 1))?,
        };
        if let Some(index) = index {
            statement.raw_bind_parameter(index, arg)?;
        }
    }
    Ok(())
}

/// The names of the first placeholders, so binding a row does not format one per column.
const PLACEHOLDERS: [&str; 24] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24",
];

/// A write transaction on the direct connection, begun with `BEGIN IMMEDIATE` (the write
/// lock at once, so it never has to be upgraded half-way) and rolled back when dropped
/// uncommitted — on an early `return`, an error or a panic. Unlike rusqlite's
/// `Transaction`, its `BEGIN`, `COMMIT` and `ROLLBACK` come from the statement cache
/// instead of being parsed afresh: every login runs three of these.
pub(crate) struct Immediate<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Immediate<'c> {
    pub(crate) fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.raw_execute()?;
        Ok(Self { conn, open: true })
    }

    /// Commits; on failure the drop rolls back whatever SQLite left open.
    pub(crate) fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.raw_execute()?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Immediate<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        // A failed COMMIT may already have ended the transaction (SQLite rolls back by
        // itself on some errors); then the connection is back in autocommit mode.
        if self.open && !self.conn.is_autocommit() {
            let rolled_back = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut statement| statement.raw_execute());
            if let Err(error) = rolled_back {
                tracing::error!(%error, "a direct write transaction could not be rolled back");
            }
        }
    }
}

/// Runs a write, returning how many rows it changed.
pub(crate) fn execute(
    conn: &Connection,
    sql: &str,
    args: &[&dyn ToSql],
) -> rusqlite::Result<usize> {
    bind(conn, sql, args)?.raw_execute()
}

/// The first row `sql` returns, read by `row`.
pub(crate) fn optional<T>(
    conn: &Connection,
    sql: &str,
    args: &[&dyn ToSql],
    row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut statement = bind(conn, sql, args)?;
    let mut rows = statement.raw_query();
    rows.next()?.map(row).transpose()
}

/// Every row `sql` returns, each read by `row`.
pub(crate) fn all<T>(
    conn: &Connection,
    sql: &str,
    args: &[&dyn ToSql],
    row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = bind(conn, sql, args)?;
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(next) = rows.next()? {
        out.push(row(next)?);
    }
    Ok(out)
}

/// Reads a `text_enum!` column: the stored text, parsed; an unknown text fails the read.
pub(crate) fn text_enum_from_sql<T: std::str::FromStr>(value: ValueRef<'_>) -> FromSqlResult<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text = <String as FromSql>::column_result(value)?;
    text.parse()
        .map_err(|error| FromSqlError::Other(Box::new(error)))
}

/// Writes a `text_enum!` value as its text.
pub(crate) fn text_enum_to_sql(text: &'static str) -> rusqlite::Result<ToSqlOutput<'static>> {
    Ok(ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())))
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match &error {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(failure, _) => {
                match (failure.code, failure.extended_code) {
                    (ErrorCode::ConstraintViolation, rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
                    | (
                        ErrorCode::ConstraintViolation,
                        rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
                    ) => StoreError::Conflict,
                    (
                        ErrorCode::ConstraintViolation,
                        rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
                    ) => StoreError::MissingReference,
                    _ => StoreError::Direct(error),
                }
            }
            _ => StoreError::Direct(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::{NewAuditEvent, Pool, Store};

    fn event(name: &str) -> NewAuditEvent {
        NewAuditEvent {
            at: 1,
            event: name.to_owned(),
            pid: None,
            client_ip: None,
            detail: "{}".to_owned(),
        }
    }

    /// The names of the audit events stored, newest first.
    async fn audit_events(store: &Store) -> Vec<String> {
        store
            .recent_audit(10)
            .await
            .unwrap()
            .into_iter()
            .map(|record| record.event)
            .collect()
    }

    /// The pool's transaction holds the write lock across an `.await` and needs this
    /// (single) thread to commit. A direct write meanwhile must neither fail nor hold the
    /// thread: it waits asynchronously, and lands once the pool has committed.
    #[tokio::test(flavor = "current_thread")]
    async fn a_direct_write_waits_for_the_pools_transaction_without_holding_the_thread() {
        let store = Store::sqlite_temp().await.unwrap();
        store.migrate().await.unwrap();
        assert!(
            store.direct().is_some(),
            "a SQLite file has a direct connection"
        );
        let Pool::Sqlite(pool) = &store.pool else {
            panic!("a SQLite store")
        };
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO audit_log (at, event, detail) VALUES (1, 'pool', '{}')")
            .execute(&mut *tx)
            .await
            .unwrap();

        let batch = [event("direct")];
        let direct_write = store.append_audit_batch(&batch);
        let pool_commit = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            tx.commit().await.unwrap();
        };
        let (written, ()) = tokio::join!(direct_write, pool_commit);
        written.unwrap();

        let events = audit_events(&store).await;
        assert_eq!(events.len(), 2, "both writes landed: {events:?}");
        assert!(events.contains(&"pool".to_owned()) && events.contains(&"direct".to_owned()));
    }

    /// A transaction dropped uncommitted (an early return, an error) leaves nothing
    /// behind and the connection usable; a committed one stays; a panic inside one rolls
    /// it back too.
    #[tokio::test(flavor = "current_thread")]
    async fn a_direct_transaction_commits_or_leaves_nothing() {
        let store = Store::sqlite_temp().await.unwrap();
        store.migrate().await.unwrap();
        let direct = store.direct().unwrap();
        let insert = |tx: &super::Immediate<'_>, name: &str| {
            let row: [&dyn rusqlite::ToSql; 5] =
                [&1_i64, &name, &None::<&str>, &None::<&str>, &"{}"];
            super::execute(tx, super::super::audit::INSERT_AUDIT_ROW, &row)
        };
        direct
            .run(|c| {
                let tx = super::Immediate::begin(c)?;
                insert(&tx, "dropped")?;
                Ok(())
            })
            .await
            .unwrap();
        direct
            .run(|c| {
                let tx = super::Immediate::begin(c)?;
                insert(&tx, "kept")?;
                tx.commit()
            })
            .await
            .unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let conn = direct.conn.try_lock().unwrap();
            let tx = super::Immediate::begin(&conn).unwrap();
            insert(&tx, "panicked").unwrap();
            panic!("inside the transaction");
        }));
        assert!(panicked.is_err());
        let events = audit_events(&store).await;
        assert_eq!(events, ["kept"]);
        let conn = direct.conn.try_lock().unwrap();
        assert!(conn.is_autocommit(), "no transaction left open");
    }

    /// An in-memory database lives in its one pool connection: no direct connection,
    /// and the same calls run on the pool.
    #[tokio::test(flavor = "current_thread")]
    async fn an_in_memory_store_runs_everything_on_the_pool() {
        let store = Store::sqlite_memory().await.unwrap();
        store.migrate().await.unwrap();
        assert!(store.direct().is_none());
        store.append_audit_batch(&[event("memory")]).await.unwrap();
        assert_eq!(store.recent_audit(1).await.unwrap()[0].event, "memory");
    }
}
