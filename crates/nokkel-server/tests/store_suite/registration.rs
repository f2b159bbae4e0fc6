//! Completing a registration atomically: one letter, one account, under concurrency.

use std::sync::Arc;

use nokkel_server::store::{
    AccountRecord, ContactRecord, DeviceRecord, RegistrationMode, RegistrationOutcome, Store,
};
use tokio::sync::Barrier;

use crate::fixtures::{letter, two_people, INGRID, NOW, OLA};

store_tests!(
    concurrent_registrations_with_one_letter_have_exactly_one_winner,
    existing_account_leaves_the_letter_unused,
    letter_of_another_person_does_not_register,
    recovery_replaces_devices_and_password_and_keeps_the_email,
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
                    RegistrationMode::New,
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
            RegistrationMode::New,
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
            RegistrationMode::New,
            NOW + 1,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RegistrationOutcome::LetterUnavailable);
    assert_eq!(store.account(INGRID).await.unwrap(), None);
    assert_eq!(store.letter("L1").await.unwrap().unwrap().state, "pending");
}

fn device(id: &str, pid: &str) -> DeviceRecord {
    DeviceRecord {
        id: id.to_owned(),
        pid: pid.to_owned(),
        public_jwk: "{}".to_owned(),
        name: "Ingrids telefon".to_owned(),
        platform: "android".to_owned(),
        uv_methods: "[\"biometric\"]".to_owned(),
        counter: 0,
        created_at: NOW,
        last_used_at: None,
        revoked_at: None,
    }
}

async fn recovery_replaces_devices_and_password_and_keeps_the_email(store: Store) {
    two_people(&store).await;
    store
        .insert_letter(&letter("L1", INGRID, NOW))
        .await
        .unwrap();
    let first = store
        .complete_registration(
            "L1",
            &account(INGRID, "app"),
            &ContactRecord {
                mobile: None,
                mobile_confirmed_at: None,
                ..contact(INGRID, "")
            },
            Some(&device("D1", INGRID)),
            RegistrationMode::New,
            NOW + 1,
        )
        .await
        .unwrap();
    assert_eq!(first, RegistrationOutcome::Created);
    let mut with_email = store.contact(INGRID).await.unwrap().unwrap();
    with_email.email = Some("ingrid@example.no".to_owned());
    store.upsert_contact(&with_email).await.unwrap();
    store
        .block_account(INGRID, "lost", false, NOW + 2)
        .await
        .unwrap();

    // A recovery letter: an SMS user now, with a proven mobile.
    store
        .insert_letter(&letter("L2", INGRID, NOW + 3))
        .await
        .unwrap();
    let mut sms = account(INGRID, "sms");
    sms.password_hash = Some("$argon2id$new".to_owned());
    let outcome = store
        .complete_registration(
            "L2",
            &sms,
            &contact(INGRID, "+4741000001"),
            None,
            RegistrationMode::Recover,
            NOW + 4,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RegistrationOutcome::Recovered {
            revoked_devices: vec!["D1".to_owned()]
        }
    );
    let recovered = store.account(INGRID).await.unwrap().unwrap();
    assert_eq!(recovered.kind, "sms");
    assert_eq!(recovered.status, "active", "the block is lifted");
    assert_eq!(recovered.blocked_reason, None);
    assert_eq!(recovered.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(recovered.created_at, NOW, "the account is the same one");
    let devices = store.devices_for(INGRID).await.unwrap();
    assert_eq!(devices[0].revoked_at, Some(NOW + 4));
    let kept = store.contact(INGRID).await.unwrap().unwrap();
    assert_eq!(kept.mobile.as_deref(), Some("+4741000001"));
    assert_eq!(kept.email.as_deref(), Some("ingrid@example.no"), "kept");
    assert_eq!(store.letter("L2").await.unwrap().unwrap().state, "used");

    // An app recovery without a mobile leaves the contact register alone.
    store
        .insert_letter(&letter("L3", INGRID, NOW + 5))
        .await
        .unwrap();
    let outcome = store
        .complete_registration(
            "L3",
            &account(INGRID, "app"),
            &ContactRecord {
                mobile: None,
                mobile_confirmed_at: None,
                ..contact(INGRID, "")
            },
            Some(&device("D2", INGRID)),
            RegistrationMode::Recover,
            NOW + 6,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RegistrationOutcome::Recovered {
            revoked_devices: vec![]
        }
    );
    let kept = store.contact(INGRID).await.unwrap().unwrap();
    assert_eq!(kept.mobile.as_deref(), Some("+4741000001"));
    assert_eq!(store.account(INGRID).await.unwrap().unwrap().kind, "app");
}
