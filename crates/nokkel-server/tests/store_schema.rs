#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The SQLite and PostgreSQL migration trees give the same schema, and opening a store
//! picks the right backend. Needs PostgreSQL (see nokkel-testkit): fails if missing.

use nokkel_server::store::{ColumnType, Store};
use nokkel_testkit::PgCluster;

async fn fresh_postgres_url() -> String {
    tokio::task::spawn_blocking(PgCluster::fresh_database_url)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("PostgreSQL tests cannot run: {e}"))
}

#[tokio::test]
async fn both_migration_trees_give_the_same_schema() {
    let sqlite = Store::sqlite_temp().await.unwrap();
    sqlite.migrate().await.unwrap();
    let postgres = Store::postgres(&fresh_postgres_url().await).await.unwrap();
    postgres.migrate().await.unwrap();

    let lite = sqlite.schema().await.unwrap();
    let pg = postgres.schema().await.unwrap();
    assert_eq!(lite, pg, "the migration trees have drifted apart");

    // The comparison is not vacuous: the schema is really there and was read fully.
    let names: Vec<&str> = lite.tables.keys().map(String::as_str).collect();
    for table in [
        "people",
        "letters",
        "orders",
        "accounts",
        "contacts",
        "outbox",
        "otp_challenges",
        "audit_log",
        "rate_limits",
    ] {
        assert!(names.contains(&table), "missing table {table}: {names:?}");
    }
    let letters = &lite.tables["letters"];
    assert_eq!(letters.primary_key, ["id"]);
    assert!(letters
        .indexes
        .contains(&vec!["pid".to_owned(), "state".to_owned()]));
    assert!(letters.foreign_keys.contains(&(
        "pid".to_owned(),
        "people".to_owned(),
        "pid".to_owned()
    )));
    let abroad = letters.columns.iter().find(|c| c.name == "abroad").unwrap();
    assert_eq!((&abroad.ty, abroad.nullable), (&ColumnType::Bool, false));
    let used_at = letters
        .columns
        .iter()
        .find(|c| c.name == "used_at")
        .unwrap();
    assert_eq!((&used_at.ty, used_at.nullable), (&ColumnType::Int64, true));
    assert_eq!(
        lite.tables["rate_limits"].primary_key,
        ["key", "window_start"]
    );
    for table in lite.tables.values() {
        for column in &table.columns {
            assert!(
                !matches!(column.ty, ColumnType::Other(_)),
                "non-portable column type {column:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_difference_between_the_trees_would_be_detected() {
    let sqlite = Store::sqlite_temp().await.unwrap();
    sqlite.migrate().await.unwrap();
    let url = fresh_postgres_url().await;
    let postgres = Store::postgres(&url).await.unwrap();
    postgres.migrate().await.unwrap();
    assert_eq!(
        sqlite.schema().await.unwrap(),
        postgres.schema().await.unwrap()
    );

    // A 32-bit column in one tree only (sqlx would refuse to decode it as i64).
    let database = url.rsplit('/').next().unwrap().to_owned();
    tokio::task::spawn_blocking(move || {
        PgCluster::shared()
            .unwrap()
            .psql_in(&database, "ALTER TABLE orders ADD COLUMN attempts integer")
    })
    .await
    .unwrap()
    .unwrap();
    let pg = postgres.schema().await.unwrap();
    assert_ne!(sqlite.schema().await.unwrap(), pg);
    let added = pg.tables["orders"].columns.last().unwrap();
    assert_eq!(added.ty, ColumnType::Other("integer".to_owned()));
}

#[tokio::test]
async fn migrating_twice_is_harmless() {
    let sqlite = Store::sqlite_temp().await.unwrap();
    sqlite.migrate().await.unwrap();
    sqlite.migrate().await.unwrap();
    let postgres = Store::postgres(&fresh_postgres_url().await).await.unwrap();
    postgres.migrate().await.unwrap();
    postgres.migrate().await.unwrap();
    assert_eq!(
        sqlite.schema().await.unwrap(),
        postgres.schema().await.unwrap()
    );
}

#[tokio::test]
async fn open_picks_the_backend_from_the_url() {
    let url = fresh_postgres_url().await;
    let postgres = Store::open(&url).await.unwrap();
    assert_eq!(postgres.backend_name(), "postgres");
    postgres.ping().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.db");
    let sqlite = Store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(sqlite.backend_name(), "sqlite");
    sqlite.migrate().await.unwrap();
    assert!(path.is_file());
    assert!(
        dir.path().join("custom.db-wal").is_file(),
        "SQLite runs in WAL mode"
    );

    let in_data_dir = Store::sqlite_in_data_dir(dir.path()).await.unwrap();
    in_data_dir.migrate().await.unwrap();
    assert!(dir.path().join("nokkel.db").is_file());

    let memory = Store::sqlite_memory().await.unwrap();
    memory.migrate().await.unwrap();
    assert_eq!(memory.count_people().await.unwrap(), 0);

    assert!(Store::open("postgres://[::1").await.is_err());
}
