//! Activation letters: lookup, single use under concurrency, lockout, revocation.

use std::sync::Arc;

use nokkel_server::store::{AttemptCount, Store, StoreError};
use tokio::sync::Barrier;

use crate::fixtures::{letter, two_people, INGRID, NOW, OLA};

store_tests!(
    active_letter_is_pending_and_unexpired,
    letters_for_lists_newest_first_and_debug_hides_codes,
    letter_needs_a_registered_person_and_a_fresh_id,
    consume_succeeds_once,
    consume_refuses_expired_letter,
    concurrent_consumes_have_exactly_one_winner,
    fifth_failure_locks_and_locked_letter_cannot_be_used,
    concurrent_failures_are_all_counted,
    failure_on_unknown_letter_is_not_found,
    revoke_touches_only_pending_letters_of_that_person,
    outbox_lists_newest_first_with_limit,
);

async fn active_letter_is_pending_and_unexpired(store: Store) {
    two_people(&store).await;
    assert_eq!(store.active_letter_for(INGRID, NOW).await.unwrap(), None);

    let first = letter("L1", INGRID, NOW - 100);
    let second = letter("L2", INGRID, NOW - 50);
    store.insert_letter(&first).await.unwrap();
    store.insert_letter(&second).await.unwrap();
    assert_eq!(
        store.active_letter_for(INGRID, NOW).await.unwrap(),
        Some(second.clone()),
        "the newest pending letter"
    );
    assert_eq!(store.active_letter_for(OLA, NOW).await.unwrap(), None);

    // Just before and at expiry.
    let expiry = second.expires_at;
    assert!(store
        .active_letter_for(INGRID, expiry - 1)
        .await
        .unwrap()
        .is_some());
    assert!(first.expires_at < expiry);
    assert_eq!(store.active_letter_for(INGRID, expiry).await.unwrap(), None);

    assert!(store.consume_letter("L2", NOW).await.unwrap());
    assert_eq!(
        store
            .active_letter_for(INGRID, NOW)
            .await
            .unwrap()
            .map(|l| l.id),
        Some("L1".to_owned())
    );
}

async fn letters_for_lists_newest_first_and_debug_hides_codes(store: Store) {
    two_people(&store).await;
    for (i, id) in ["A", "B", "C"].iter().enumerate() {
        store
            .insert_letter(&letter(id, INGRID, NOW + i as i64))
            .await
            .unwrap();
    }
    store.insert_letter(&letter("X", OLA, NOW)).await.unwrap();
    let ids: Vec<String> = store
        .letters_for(INGRID)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, ["C", "B", "A"]);

    let stored = store.letter("A").await.unwrap().unwrap();
    assert_eq!(stored, letter("A", INGRID, NOW));
    let debug = format!("{stored:?}");
    assert!(debug.contains("<redacted 32 bytes>"), "{debug}");
    assert!(
        !debug.contains("170"),
        "hash bytes leak into Debug: {debug}"
    );
}

async fn letter_needs_a_registered_person_and_a_fresh_id(store: Store) {
    two_people(&store).await;
    let unknown = letter("L1", "30919413820", NOW);
    assert!(matches!(
        store.insert_letter(&unknown).await,
        Err(StoreError::MissingReference)
    ));
    store
        .insert_letter(&letter("L1", INGRID, NOW))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_letter(&letter("L1", OLA, NOW)).await,
        Err(StoreError::Conflict)
    ));
}

async fn consume_succeeds_once(store: Store) {
    two_people(&store).await;
    store
        .insert_letter(&letter("L1", INGRID, NOW))
        .await
        .unwrap();
    assert!(store.consume_letter("L1", NOW + 10).await.unwrap());
    assert!(!store.consume_letter("L1", NOW + 11).await.unwrap());
    let used = store.letter("L1").await.unwrap().unwrap();
    assert_eq!(used.state, "used");
    assert_eq!(used.used_at, Some(NOW + 10));
    assert!(!store.consume_letter("no-such-letter", NOW).await.unwrap());
}

async fn consume_refuses_expired_letter(store: Store) {
    two_people(&store).await;
    let l = letter("L1", INGRID, NOW);
    store.insert_letter(&l).await.unwrap();
    assert!(!store.consume_letter("L1", l.expires_at).await.unwrap());
    assert_eq!(store.letter("L1").await.unwrap().unwrap().state, "pending");
    assert!(store.consume_letter("L1", l.expires_at - 1).await.unwrap());
}

async fn concurrent_consumes_have_exactly_one_winner(store: Store) {
    two_people(&store).await;
    const RACERS: usize = 16;
    for round in 0..5 {
        let id = format!("L{round}");
        store
            .insert_letter(&letter(&id, INGRID, NOW))
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for _ in 0..RACERS {
            let (store, barrier, id) = (store.clone(), barrier.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.consume_letter(&id, NOW + 1).await.unwrap()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "round {round}: exactly one registration wins");
    }
}

async fn fifth_failure_locks_and_locked_letter_cannot_be_used(store: Store) {
    two_people(&store).await;
    store
        .insert_letter(&letter("L1", INGRID, NOW))
        .await
        .unwrap();
    for n in 1..=4 {
        assert_eq!(
            store.record_failed_attempt("L1", 5).await.unwrap(),
            AttemptCount {
                attempts: n,
                locked: false
            }
        );
    }
    assert_eq!(
        store.record_failed_attempt("L1", 5).await.unwrap(),
        AttemptCount {
            attempts: 5,
            locked: true
        }
    );
    assert_eq!(store.letter("L1").await.unwrap().unwrap().state, "locked");
    assert!(!store.consume_letter("L1", NOW + 1).await.unwrap());
    assert_eq!(
        store.active_letter_for(INGRID, NOW + 1).await.unwrap(),
        None
    );
    // A sixth wrong code is still counted and the letter stays locked.
    assert_eq!(
        store.record_failed_attempt("L1", 5).await.unwrap(),
        AttemptCount {
            attempts: 6,
            locked: true
        }
    );
}

async fn concurrent_failures_are_all_counted(store: Store) {
    two_people(&store).await;
    store
        .insert_letter(&letter("L1", INGRID, NOW))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(12));
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.record_failed_attempt("L1", 5).await.unwrap()
        }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    let mut attempts: Vec<i64> = counts.iter().map(|c| c.attempts).collect();
    attempts.sort_unstable();
    assert_eq!(attempts, (1..=12).collect::<Vec<_>>(), "no lost updates");
    assert!(counts.iter().all(|c| c.locked == (c.attempts >= 5)));
    let stored = store.letter("L1").await.unwrap().unwrap();
    assert_eq!(
        (stored.failed_attempts, stored.state.as_str()),
        (12, "locked")
    );
}

async fn failure_on_unknown_letter_is_not_found(store: Store) {
    assert!(matches!(
        store.record_failed_attempt("nope", 5).await,
        Err(StoreError::NotFound)
    ));
}

async fn revoke_touches_only_pending_letters_of_that_person(store: Store) {
    two_people(&store).await;
    store
        .insert_letter(&letter("used", INGRID, NOW))
        .await
        .unwrap();
    assert!(store.consume_letter("used", NOW + 1).await.unwrap());
    store
        .insert_letter(&letter("p1", INGRID, NOW + 2))
        .await
        .unwrap();
    store
        .insert_letter(&letter("p2", INGRID, NOW + 3))
        .await
        .unwrap();
    store.insert_letter(&letter("ola", OLA, NOW)).await.unwrap();

    assert_eq!(store.revoke_letters_for(INGRID).await.unwrap(), 2);
    let state = |id: &'static str| {
        let store = store.clone();
        async move { store.letter(id).await.unwrap().unwrap().state }
    };
    assert_eq!(state("used").await, "used");
    assert_eq!(state("p1").await, "revoked");
    assert_eq!(state("p2").await, "revoked");
    assert_eq!(state("ola").await, "pending");
    assert!(!store.consume_letter("p1", NOW + 4).await.unwrap());
    assert_eq!(store.revoke_letters_for(INGRID).await.unwrap(), 0);
}

async fn outbox_lists_newest_first_with_limit(store: Store) {
    two_people(&store).await;
    for i in 0..5 {
        let pid = if i % 2 == 0 { INGRID } else { OLA };
        store
            .insert_letter(&letter(&format!("L{i}"), pid, NOW + i))
            .await
            .unwrap();
    }
    let ids: Vec<String> = store
        .letters_outbox(3, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, ["L4", "L3", "L2"]);
}
