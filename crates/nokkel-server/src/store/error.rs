//! The store's error type: what the services can branch on, with the driver's detail
//! kept for logs only.

use super::people::CsvError;

/// Why a store operation failed.
///
/// `Display` of [`StoreError::Database`] and [`StoreError::Migration`] carries the
/// driver's message: log it, never show it to users (it may name tables or values).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row the operation targets does not exist.
    #[error("not found")]
    NotFound,
    /// A row with the same key already exists (unique or primary-key violation).
    #[error("already exists")]
    Conflict,
    /// A row this one refers to (for example the person) does not exist.
    #[error("refers to a row that does not exist")]
    MissingReference,
    /// A population CSV was rejected; nothing was imported.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// The store could not be configured (bad URL, no temporary directory).
    #[error("store configuration: {0}")]
    Config(String),
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Any other database failure (connection, I/O, constraint bug).
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The same, from the connection the login path uses on its own thread
    /// (`store/direct.rs`).
    #[error("database error: {0}")]
    Direct(#[source] rusqlite::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::MissingReference
            }
            _ => StoreError::Database(error),
        }
    }
}
