//! Fixed-window rate-limit counters: counting, limits, windows, concurrency, pruning.

use std::sync::Arc;

use nokkel_server::store::{RateCount, Store};
use tokio::sync::Barrier;

use crate::fixtures::NOW;

store_tests!(
    hits_are_counted_per_key_and_window,
    concurrent_hits_are_all_counted
);

async fn hits_are_counted_per_key_and_window(store: Store) {
    let window = NOW - NOW % 3600;
    for n in 1..=3 {
        assert_eq!(
            store.hit("order:ip:192.0.2.1", window, 3).await.unwrap(),
            RateCount {
                count: n,
                allowed: true
            }
        );
    }
    assert_eq!(
        store.hit("order:ip:192.0.2.1", window, 3).await.unwrap(),
        RateCount {
            count: 4,
            allowed: false
        }
    );
    assert_eq!(
        store
            .hit("order:ip:192.0.2.2", window, 3)
            .await
            .unwrap()
            .count,
        1
    );
    assert_eq!(
        store
            .hit("order:ip:192.0.2.1", window + 3600, 3)
            .await
            .unwrap()
            .count,
        1,
        "a new window starts from zero"
    );

    assert_eq!(store.prune_rate_limits(window + 3600).await.unwrap(), 2);
    assert_eq!(
        store
            .hit("order:ip:192.0.2.1", window, 3)
            .await
            .unwrap()
            .count,
        1
    );
}

async fn concurrent_hits_are_all_counted(store: Store) {
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.hit("login:pid", NOW, 10).await.unwrap()
        }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    let mut seen: Vec<i64> = counts.iter().map(|c| c.count).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    assert_eq!(counts.iter().filter(|c| c.allowed).count(), 10);
}
