//! Persistence: SQLite (embedded default) and PostgreSQL behind one `Store`.
