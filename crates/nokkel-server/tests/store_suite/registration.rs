//! Completing a registration atomically: one letter, one account, under concurrency.

use std::sync::Arc;

use nokkel_server::store::{AccountRecord, ContactRecord, RegistrationOutcome, Store};
use tokio::sync::Barrier;

use crate::fixtures::{letter, two_people, INGRID, NOW, OLA};

store_tests!(
    concurrent_registrations_with_one_letter_have_exactly_one_winner,
    existing_account_leaves_the_letter_unused,
    letter_of_another_person_does_not_register,
);

fn account(pid: &str, kind: &str) -> AccountRecord {
    AccountRecord {
        pid: pid.to_owned(),
        kind: kind.parse().unwrap(),
        password_hash: None,
        status: "active".parse().unwrap(),
        blocked_reason: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn contact(pid: &str, mobile: &str) -> ContactRecord {
    ContactRecord {
        pid: pid.to_owned(),
        mobile: Some(mobile.to_owned()),
        mobile_confirmed_at: Some(NOW),
        email: None,
        email_confirmed_at: None,
        updated_at: NOW,
        lang: "nn".to_owned(),
    }
}

async fn concurrent_registrations_with_one_letter_have_exactly_one_winner(store: Store) {
    two_people(&store).await;
    store
        .insert_letter(&letter("L1", INGRID, NOW))
        .await
        .unwrap();
    const RACERS: usize = 12;
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let kind = if i % 2 == 0 { "sms" } else { "app" };
            let mobile = format!("+47900000{i:02}");
            barrier.wait().await;
            let outcome = store
                .complete_registration(
                    "L1",
                    &account(INGRID, kind),
                    &contact(INGRID, &mobile),
                    None,
                    NOW + 1,
                )
                .await
                .unwrap();
            (outcome, kind, mobile)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (outcome, kind, mobile) = task.await.unwrap();
        match outcome {
            RegistrationOutcome::Created => winners.push((kind, mobile)),
            RegistrationOutcome::LetterUnavailable => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one registration wins");
    let (kind, mobile) = &winners[0];
    assert_eq!(store.account(INGRID).await.unwrap().unwrap().kind, *kind);
    assert_eq!(
        store
            .contact(INGRID)
            .await
            .unwrap()
            .unwrap()
            .mobile
            .as_deref(),
        Some(mobile.as_str()),
        "the contact register holds the winner's number"
    );
    assert_eq!(store.letter("L1").await.unwrap().unwrap().state, "used");
}

async fn existing_account_leaves_the_letter_unused(store: Store) {
    two_people(&store).await;
    store.create_account(&account(OLA, "sms")).await.unwrap();
    store.insert_letter(&letter("L1", OLA, NOW)).await.unwrap();
    let outcome = store
        .complete_registration(
            "L1",
            &account(OLA, "app"),
            &contact(OLA, "+4791111111"),
            None,
            NOW + 1,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RegistrationOutcome::AccountExists);
    assert_eq!(store.letter("L1").await.unwrap().unwrap().state, "pending");
    assert_eq!(store.account(OLA).await.unwrap().unwrap().kind, "sms");
    assert_eq!(store.contact(OLA).await.unwrap(), None);
}

async fn letter_of_another_person_does_not_register(store: Store) {
    two_people(&store).await;
    store.insert_letter(&letter("L1", OLA, NOW)).await.unwrap();
    let outcome = store
        .complete_registration(
            "L1",
            &account(INGRID, "sms"),
            &contact(INGRID, "+4791111111"),
            None,
            NOW + 1,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RegistrationOutcome::LetterUnavailable);
    assert_eq!(store.account(INGRID).await.unwrap(), None);
    assert_eq!(store.letter("L1").await.unwrap().unwrap().state, "pending");
}
