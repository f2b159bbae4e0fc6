#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The temporary cluster starts, serves separate databases and cleans up after itself.

use nokkel_testkit::PgCluster;

#[test]
fn cluster_serves_fresh_databases_and_is_removed_on_drop() {
    let cluster = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let root = cluster.root().to_path_buf();
    assert!(root.join("data").is_dir());

    let a = cluster.create_database().unwrap();
    let b = cluster.create_database().unwrap();
    assert_ne!(a, b, "each call names a new database");
    assert!(a.starts_with("postgres://postgres:"));
    assert!(a.contains(&format!("@127.0.0.1:{}/", cluster.port())));

    let listed = cluster
        .psql("SELECT count(*) FROM pg_database WHERE datname LIKE 't\\_%'")
        .unwrap();
    assert_eq!(listed.trim(), "2");

    drop(cluster);
    assert!(!root.exists(), "the cluster directory is removed on drop");
}

#[test]
fn shared_cluster_is_started_once() {
    let first = PgCluster::shared().unwrap_or_else(|e| panic!("{e}"));
    let second = PgCluster::shared().unwrap();
    assert!(std::ptr::eq(first, second));
    assert_eq!(first.psql("SELECT 40 + 2").unwrap().trim(), "42");
}
