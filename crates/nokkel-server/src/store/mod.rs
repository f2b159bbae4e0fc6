//! Persistence: SQLite (embedded default) and PostgreSQL behind one `Store`.
//!
//! # Design
//!
//! [`Store`] holds either a native `SqlitePool` or a native `PgPool`. Every query is
//! written **once** as SQL text and run through the internal `with_pool!` macro, which
//! expands the same expression in both match arms, so it is type-checked and executed
//! by each driver natively. The SQL sticks to what both dialects share: `$1`-style
//! placeholders (sqlx's SQLite driver maps `$N` to argument N, and a repeated `$N` is
//! one parameter in both), `INSERT … ON CONFLICT … DO UPDATE`, `RETURNING` (SQLite ≥
//! 3.35; sqlx bundles a newer one), and portable column types: `BIGINT` for unix-second
//! timestamps and counters, `TEXT`, `BLOB`/`BYTEA`, `BOOLEAN`.
//!
//! Why not `sqlx::Any`: it decodes through a lowest-common-denominator value type
//! (no `bool` on SQLite columns, integer width surprises, blob handling quirks), loses
//! driver-specific error codes we branch on (unique and foreign-key violations), and
//! needs runtime driver installation. The enum costs one `match` per call and keeps
//! each driver's own types, errors and pool tuning (WAL and busy timeout for SQLite).
//!
//! On a SQLite file the statements every login runs also have a path on a second
//! connection used on the caller's own thread ([`direct`]): the same SQL text, bound by
//! name, without sqlx's hand-off to its connection thread. The `with_pool!` path stays
//! for PostgreSQL and for an in-memory SQLite database.
//!
//! Records are plain structs of primitive fields (identity numbers as `String`,
//! unix-second `i64` times, hashes and sealed blobs as `Vec<u8>`); the services above
//! turn them into domain types. The store never sees a secret in clear: activation
//! codes and OTPs arrive hashed (HMAC with the server pepper) or sealed, passwords as
//! Argon2 PHC strings. Records holding such bytes redact them in `Debug`.
//!
//! Migrations are embedded, one tree per backend (`migrations/sqlite`,
//! `migrations/postgres`), numbered `0001_initial`, `0002_…`; `tests/store_schema.rs`
//! proves both trees give the same schema (see [`Store::schema`]).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

mod accounts;
mod audit;
mod checkpoint;
mod contacts;
mod devices;
pub(crate) mod direct;
mod error;
mod events;
mod letters;
mod logins;
mod oidc;
mod orders;
mod otp;
mod outbox;
pub mod people;
mod push;
mod rate_limit;
mod registration;
mod schema;
mod server_keys;
mod text_enum;
mod transfers;

pub use accounts::{AccountKind, AccountRecord, AccountStatus};
pub use audit::{AuditRecord, NewAuditEvent};
pub use checkpoint::Checkpoint;
pub use contacts::ContactRecord;
pub use devices::DeviceRecord;
pub use error::StoreError;
pub use letters::{AttemptCount, LetterRecord, LetterState};
pub use logins::{Decided, DeviceDecision, LoginMethod, LoginRecord, LoginState, LoginTransition};
pub use oidc::{
    AccessTokenRecord, AuthorizationCodeRecord, AuthorizationRequestRecord, ClientRecord,
};
pub use orders::{NewOrder, OrderRecord, OrderSubject};
pub use otp::OtpRecord;
pub use outbox::{Channel, ChannelStats, MessageRecord, NewMessage, OutboxFilter, OutboxState};
pub use people::{AddressKind, CsvError, PersonRecord, PersonStatus, PopulationRow, RowError};
pub use push::PushRegistrationRecord;
pub use rate_limit::RateCount;
pub use registration::{RegistrationMode, RegistrationOutcome};
pub use schema::{ColumnSchema, ColumnType, Schema, TableSchema};
pub use server_keys::ServerKeyRecord;
pub(crate) use text_enum::text_enum;
pub use text_enum::UnknownValue;
pub use transfers::{TransferApproval, TransferRecord, TransferState};

/// The SQLite database's file name inside the server's data directory.
pub const SQLITE_FILE_NAME: &str = "nokkel.db";

/// Connections to a SQLite file: one. SQLite lets one writer in at a time; with several
/// connections the others wait in SQLite's busy handler, which sleeps in steps of 1, 2,
/// 5, 10… ms, and that sleep landed on approvals (notify p99 36 ms at 8 logins in flight,
/// against 5.6 ms with one connection, which also costs 27 % less CPU per login:
/// docs/PERFORMANCE.md). On one connection statements queue in the pool instead, in
/// order, and each is short (reads by key, single-row writes, batched audit rows). The
/// login path's statements use a second connection on the caller's thread instead
/// (`direct.rs`).
const SQLITE_CONNECTIONS: u32 = 1;

/// How often `nokkel serve` checkpoints the SQLite write-ahead log (`checkpoint.rs`).
/// Each checkpoint holds writers while it syncs (8–13 ms measured at a thousand logins a
/// second); ten a second kept the log smaller but cost as much CPU and doubled the
/// approval → notified p99 (docs/PERFORMANCE.md).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// How long a SQLite writer waits for another writer before failing with "busy".
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Embedded migrations, one tree per backend.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The database behind the identity server. Cheap to clone (pools are shared).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// On a SQLite file, a second connection the login path uses on its own thread
    /// (`store/direct.rs`); `None` on PostgreSQL and in-memory SQLite.
    direct: Option<Arc<direct::Direct>>,
    /// On a SQLite file, the connection `nokkel serve` checkpoints the write-ahead log
    /// on (`store/checkpoint.rs`); `None` on PostgreSQL and in-memory SQLite.
    checkpointer: Option<Arc<checkpoint::Checkpointer>>,
    /// Keeps a temporary database directory alive as long as any clone of the store.
    _temp_dir: Option<Arc<tempfile::TempDir>>,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Evaluates `$body` with `$pool` bound to the store's native pool. The body is
/// written once and compiled once per driver, so one SQL text serves both backends.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a store from a URL or a path: `postgres://…` / `postgresql://…` selects
    /// PostgreSQL, `sqlite:…` a SQLite URL, and anything else is a SQLite file path.
    /// Does not migrate; call [`Store::migrate`].
    pub async fn open(url_or_path: &str) -> Result<Self, StoreError> {
        if url_or_path.starts_with("postgres://") || url_or_path.starts_with("postgresql://") {
            Self::postgres(url_or_path).await
        } else if url_or_path.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url_or_path)
                .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?;
            let in_memory = url_or_path.contains(":memory:") || url_or_path.contains("mode=memory");
            Self::sqlite_with(options.create_if_missing(true), in_memory, None).await
        } else {
            Self::sqlite_file(Path::new(url_or_path)).await
        }
    }

    /// Opens (creating if missing) the SQLite file [`SQLITE_FILE_NAME`] in `data_dir`.
    pub async fn sqlite_in_data_dir(data_dir: &Path) -> Result<Self, StoreError> {
        Self::sqlite_file(&data_dir.join(SQLITE_FILE_NAME)).await
    }

    /// Opens (creating if missing) a SQLite database file, in WAL mode with
    /// `synchronous=NORMAL`, foreign keys on and a busy timeout.
    pub async fn sqlite_file(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::sqlite_with(options, false, None).await
    }

    /// A fresh SQLite database in a temporary directory that is deleted when the last
    /// clone of the store is dropped. A real file in WAL mode, opened exactly as
    /// `nokkel serve` opens its own: what tests should use.
    pub async fn sqlite_temp() -> Result<Self, StoreError> {
        let dir = tempfile::Builder::new()
            .prefix("nokkel-store-")
            .tempdir()
            .map_err(|e| StoreError::Config(format!("cannot create a temporary directory: {e}")))?;
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join(SQLITE_FILE_NAME))
            .create_if_missing(true);
        Self::sqlite_with(options, false, Some(Arc::new(dir))).await
    }

    /// A fresh in-memory SQLite database on a single connection (an in-memory database
    /// lives exactly as long as its connection). Not in WAL mode, so prefer
    /// [`Store::sqlite_temp`], which is opened the way a served file is.
    pub async fn sqlite_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.foreign_keys(true))
            .await?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
            direct: None,
            checkpointer: None,
            _temp_dir: None,
        })
    }

    /// Opens the pool on `options` and, unless the database is `in_memory`, the direct
    /// connection to the same file.
    async fn sqlite_with(
        options: SqliteConnectOptions,
        in_memory: bool,
        temp_dir: Option<Arc<tempfile::TempDir>>,
    ) -> Result<Self, StoreError> {
        let file = options.get_filename().to_owned();
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            // No checkpoint inside a commit: the one that crosses the threshold would wait
            // for the checkpoint's fsync while its caller (an approval) waits. `nokkel serve`
            // checkpoints in the background instead ([`Store::checkpoint`]); the last
            // connection to close checkpoints too, as SQLite always does.
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", checkpoint::WAL_SIZE_LIMIT.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_CONNECTIONS)
            // sqlx pings an idle connection before lending it out, by default: one more
            // round trip to the connection's thread for every statement. A SQLite file
            // cannot hang up the way a network peer can, so skip it.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        // Opened after the pool, which created the file and switched it to WAL.
        let (direct, checkpointer) = match in_memory {
            true => (None, None),
            false => (
                Some(Arc::new(direct::Direct::open(&file)?)),
                Some(Arc::new(checkpoint::Checkpointer::open(&file)?)),
            ),
        };
        Ok(Self {
            pool: Pool::Sqlite(pool),
            direct,
            checkpointer,
            _temp_dir: temp_dir,
        })
    }

    /// Connects to PostgreSQL at a `postgres://` URL. Does not migrate.
    pub async fn postgres(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool: Pool::Postgres(pool),
            direct: None,
            checkpointer: None,
            _temp_dir: None,
        })
    }

    /// Applies the embedded migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The connection the login path uses on its own thread, on a SQLite file.
    pub(crate) fn direct(&self) -> Option<&direct::Direct> {
        self.direct.as_deref()
    }

    /// `"sqlite"` or `"postgres"`, for logs and health output.
    pub fn backend_name(&self) -> &'static str {
        match &self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Whether the database answers a trivial query (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// SQLite's own consistency check (`PRAGMA integrity_check`): `["ok"]` when the file
    /// is sound, otherwise the problems it finds. `None` on PostgreSQL, which has no one
    /// equivalent check.
    pub async fn integrity_check(&self) -> Result<Option<Vec<String>>, StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => Ok(Some(
                sqlx::query_scalar::<_, String>("PRAGMA integrity_check")
                    .fetch_all(pool)
                    .await?,
            )),
            Pool::Postgres(_) => Ok(None),
        }
    }

    /// Copies the SQLite write-ahead log back into the database file and leaves it to
    /// start again from its beginning, waiting a little for readers and the writer
    /// (`store/checkpoint.rs`); `nokkel serve` calls it every [`CHECKPOINT_INTERVAL`].
    /// `None` where there is no log to checkpoint: PostgreSQL, in-memory SQLite.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let Some(checkpointer) = self.checkpointer.clone() else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || checkpointer.run())
            .await
            .map_err(|err| StoreError::Config(format!("the checkpoint thread failed: {err}")))?
            .map(Some)
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

/// Formats a byte field for `Debug` without its content.
pub(crate) fn redacted(bytes: &[u8]) -> String {
    format!("<redacted {} bytes>", bytes.len())
}
