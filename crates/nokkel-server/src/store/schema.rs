//! The migrated schema, read back from the database's catalogue and normalised so that
//! the SQLite and PostgreSQL trees can be compared (the schema parity test).

use std::collections::{BTreeMap, BTreeSet};

use super::{Pool, Store, StoreError};

/// A backend-neutral column type. Anything outside the portable set is kept as
/// `Other` with the backend's own spelling, so it shows up as a difference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColumnType {
    /// SQLite `INTEGER`/`BIGINT`, PostgreSQL `bigint`.
    Int64,
    /// `TEXT` / `text`.
    Text,
    /// SQLite `BLOB`, PostgreSQL `bytea`.
    Bytes,
    /// `BOOLEAN` / `boolean`.
    Bool,
    /// Any other type, as the backend names it (e.g. PostgreSQL `integer`).
    Other(String),
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnSchema {
    /// Column name.
    pub name: String,
    /// Normalised type.
    pub ty: ColumnType,
    /// Whether NULL is allowed (primary-key columns never are).
    pub nullable: bool,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableSchema {
    /// Columns in declaration order.
    pub columns: Vec<ColumnSchema>,
    /// Primary-key columns in key order.
    pub primary_key: Vec<String>,
    /// Column lists of unique constraints and unique indexes (primary key excluded).
    pub unique: BTreeSet<Vec<String>>,
    /// Column lists of non-unique indexes.
    pub indexes: BTreeSet<Vec<String>>,
    /// Single-column foreign keys as (column, referenced table, referenced column).
    pub foreign_keys: BTreeSet<(String, String, String)>,
}

/// Every application table (sqlx's migration bookkeeping excluded), by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Tables by name.
    pub tables: BTreeMap<String, TableSchema>,
}

const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

impl Store {
    /// Reads the current schema from the database catalogue, normalised across
    /// backends. Used by the schema parity test; cheap enough for a health check.
    pub async fn schema(&self) -> Result<Schema, StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlite_schema(pool).await,
            Pool::Postgres(pool) => postgres_schema(pool).await,
        }
    }
}

async fn sqlite_schema(pool: &sqlx::SqlitePool) -> Result<Schema, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> $1 ORDER BY name",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(pool)
    .await?;
    let mut schema = Schema::default();
    for name in names {
        let mut table = TableSchema::default();
        let columns: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(pool)
        .await?;
        let mut key: Vec<(i64, String)> = Vec::new();
        for (column, ty, not_null, pk) in columns {
            if pk > 0 {
                key.push((pk, column.clone()));
            }
            let ty = match ty.to_ascii_uppercase().as_str() {
                "INTEGER" | "BIGINT" => ColumnType::Int64,
                "TEXT" => ColumnType::Text,
                "BLOB" => ColumnType::Bytes,
                "BOOLEAN" => ColumnType::Bool,
                _ => ColumnType::Other(ty),
            };
            // SQLite lets primary-key columns be NULL unless declared otherwise (a
            // historical quirk); PostgreSQL never does. Our migrations say NOT NULL
            // explicitly, and a rowid key cannot be NULL.
            table.columns.push(ColumnSchema {
                name: column,
                ty,
                nullable: not_null == 0 && pk == 0,
            });
        }
        key.sort();
        table.primary_key = key.into_iter().map(|(_, column)| column).collect();

        let indexes: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list($1)")
                .bind(&name)
                .fetch_all(pool)
                .await?;
        for (index, unique, origin) in indexes {
            if origin == "pk" {
                continue;
            }
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(pool)
                    .await?;
            if unique != 0 {
                table.unique.insert(columns);
            } else {
                table.indexes.insert(columns);
            }
        }

        let foreign_keys: Vec<(String, String, String)> =
            sqlx::query_as("SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list($1)")
                .bind(&name)
                .fetch_all(pool)
                .await?;
        table.foreign_keys = foreign_keys.into_iter().collect();
        schema.tables.insert(name, table);
    }
    Ok(schema)
}

async fn postgres_schema(pool: &sqlx::PgPool) -> Result<Schema, StoreError> {
    let mut schema = Schema::default();
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable::text \
         FROM information_schema.columns c \
         JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND c.table_name <> $1 \
         ORDER BY c.table_name, c.ordinal_position",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(pool)
    .await?;
    for (table, column, ty, nullable) in columns {
        let ty = match ty.as_str() {
            "bigint" => ColumnType::Int64,
            "text" => ColumnType::Text,
            "bytea" => ColumnType::Bytes,
            "boolean" => ColumnType::Bool,
            _ => ColumnType::Other(ty),
        };
        schema
            .tables
            .entry(table)
            .or_default()
            .columns
            .push(ColumnSchema {
                name: column,
                ty,
                nullable: nullable == "YES",
            });
    }

    let indexes: Vec<(String, bool, bool, String)> = sqlx::query_as(
        "SELECT t.relname::text, ix.indisunique, ix.indisprimary, \
           array_to_string(ARRAY( \
             SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             ORDER BY k.ord), ',') \
         FROM pg_index ix \
         JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND t.relname <> $1",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(pool)
    .await?;
    for (table, unique, primary, columns) in indexes {
        let columns: Vec<String> = columns.split(',').map(str::to_owned).collect();
        let entry = schema.tables.entry(table).or_default();
        if primary {
            entry.primary_key = columns;
        } else if unique {
            entry.unique.insert(columns);
        } else {
            entry.indexes.insert(columns);
        }
    }

    let foreign_keys: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT t.relname::text, a.attname::text, rt.relname::text, ra.attname::text \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class rt ON rt.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1] \
         WHERE c.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(pool)
    .await?;
    for (table, column, referenced_table, referenced_column) in foreign_keys {
        schema
            .tables
            .entry(table)
            .or_default()
            .foreign_keys
            .insert((column, referenced_table, referenced_column));
    }
    Ok(schema)
}
