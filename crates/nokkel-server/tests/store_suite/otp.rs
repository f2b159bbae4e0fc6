//! SMS code challenges: single use under concurrency, lockout, expiry.

use std::sync::Arc;

use nokkel_server::store::{AttemptCount, OtpRecord, Store, StoreError};
use tokio::sync::Barrier;

use crate::fixtures::{two_people, INGRID, NOW, OLA};

store_tests!(
    challenge_is_found_and_consumed_once,
    concurrent_consumes_have_exactly_one_winner,
    too_many_failures_lock_the_challenge,
    expired_challenge_is_refused,
    challenge_needs_a_registered_person,
);

fn otp(id: &str, pid: &str, created_at: i64) -> OtpRecord {
    OtpRecord {
        id: id.to_owned(),
        pid: pid.to_owned(),
        purpose: "registration".to_owned(),
        code_hash: vec![7; 32],
        attempts: 0,
        created_at,
        expires_at: created_at + 300,
        consumed_at: None,
    }
}

async fn challenge_is_found_and_consumed_once(store: Store) {
    two_people(&store).await;
    store.insert_otp(&otp("O1", INGRID, NOW)).await.unwrap();
    store.insert_otp(&otp("O2", INGRID, NOW + 1)).await.unwrap();
    let active = store
        .active_otp_for(INGRID, "registration", NOW + 2, 5)
        .await
        .unwrap();
    assert_eq!(active.map(|o| o.id), Some("O2".to_owned()));
    assert_eq!(
        store
            .active_otp_for(OLA, "registration", NOW, 5)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.active_otp_for(INGRID, "login", NOW, 5).await.unwrap(),
        None
    );

    assert!(store.consume_otp("O2", NOW + 3, 5).await.unwrap());
    assert!(!store.consume_otp("O2", NOW + 4, 5).await.unwrap());
    assert_eq!(
        store.otp("O2").await.unwrap().unwrap().consumed_at,
        Some(NOW + 3)
    );
    let active = store
        .active_otp_for(INGRID, "registration", NOW + 4, 5)
        .await
        .unwrap();
    assert_eq!(active.map(|o| o.id), Some("O1".to_owned()));
    assert!(!format!("{:?}", otp("x", INGRID, 0)).contains("[7,"));
}

async fn concurrent_consumes_have_exactly_one_winner(store: Store) {
    two_people(&store).await;
    store.insert_otp(&otp("O1", INGRID, NOW)).await.unwrap();
    let barrier = Arc::new(Barrier::new(16));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.consume_otp("O1", NOW + 1, 5).await.unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn too_many_failures_lock_the_challenge(store: Store) {
    two_people(&store).await;
    store.insert_otp(&otp("O1", INGRID, NOW)).await.unwrap();
    for n in 1..=2 {
        assert_eq!(
            store.record_otp_failure("O1", 3).await.unwrap(),
            AttemptCount {
                attempts: n,
                locked: false
            }
        );
    }
    assert_eq!(
        store.record_otp_failure("O1", 3).await.unwrap(),
        AttemptCount {
            attempts: 3,
            locked: true
        }
    );
    assert!(!store.consume_otp("O1", NOW + 1, 3).await.unwrap());
    assert_eq!(
        store
            .active_otp_for(INGRID, "registration", NOW + 1, 3)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.record_otp_failure("nope", 3).await,
        Err(StoreError::NotFound)
    ));
}

async fn expired_challenge_is_refused(store: Store) {
    two_people(&store).await;
    let challenge = otp("O1", INGRID, NOW);
    store.insert_otp(&challenge).await.unwrap();
    assert!(!store
        .consume_otp("O1", challenge.expires_at, 5)
        .await
        .unwrap());
    assert!(store
        .consume_otp("O1", challenge.expires_at - 1, 5)
        .await
        .unwrap());
}

async fn challenge_needs_a_registered_person(store: Store) {
    assert!(matches!(
        store.insert_otp(&otp("O1", INGRID, NOW)).await,
        Err(StoreError::MissingReference)
    ));
}
