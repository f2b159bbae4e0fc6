#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The store's behaviour, every test run once on SQLite and once on PostgreSQL.
//!
//! Each test is an `async fn(Store)` in a submodule; `store_tests!` instantiates it as
//! `<module>::sqlite::<name>` and `<module>::postgres::<name>`, each on a fresh
//! database. PostgreSQL tests start a temporary cluster (see nokkel-testkit) and FAIL
//! when PostgreSQL is not installed; run only SQLite with `cargo test -- sqlite`.

/// Instantiates each listed `async fn(Store)` of the enclosing module once per backend.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::support::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::support::postgres().await).await;
                }
            )*
        }
    };
}

mod support {
    use nokkel_server::store::Store;

    /// A fresh, migrated SQLite database in a temporary file.
    pub async fn sqlite() -> Store {
        let store = Store::sqlite_temp().await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// A fresh, migrated database on the shared temporary PostgreSQL cluster.
    pub async fn postgres() -> Store {
        let url = tokio::task::spawn_blocking(nokkel_testkit::PgCluster::fresh_database_url)
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("PostgreSQL tests cannot run: {e}"));
        let store = Store::postgres(&url).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

#[path = "store_suite/fixtures.rs"]
mod fixtures;

#[path = "store_suite/accounts.rs"]
mod accounts;
#[path = "store_suite/audit.rs"]
mod audit;
#[path = "store_suite/contacts.rs"]
mod contacts;
#[path = "store_suite/letters.rs"]
mod letters;
#[path = "store_suite/orders.rs"]
mod orders;
#[path = "store_suite/otp.rs"]
mod otp;
#[path = "store_suite/outbox.rs"]
mod outbox;
#[path = "store_suite/people.rs"]
mod people;
#[path = "store_suite/rate_limit.rs"]
mod rate_limit;
#[path = "store_suite/registration.rs"]
mod registration;
