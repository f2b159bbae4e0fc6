//! Accounts: one per person, conflicts, status and password changes.

use nokkel_server::store::{AccountRecord, Store, StoreError};

use crate::fixtures::{two_people, INGRID, NOW, OLA};

store_tests!(
    account_is_created_once_per_person,
    status_and_password_changes_are_stored,
    account_needs_a_registered_person,
);

fn account(pid: &str) -> AccountRecord {
    AccountRecord {
        pid: pid.to_owned(),
        kind: "sms".parse().unwrap(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        status: "active".parse().unwrap(),
        blocked_reason: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

async fn account_is_created_once_per_person(store: Store) {
    two_people(&store).await;
    assert_eq!(store.account(INGRID).await.unwrap(), None);
    store.create_account(&account(INGRID)).await.unwrap();
    assert_eq!(store.account(INGRID).await.unwrap(), Some(account(INGRID)));

    let mut app = account(INGRID);
    app.kind = "app".parse().unwrap();
    app.password_hash = None;
    assert!(matches!(
        store.create_account(&app).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.account(INGRID).await.unwrap().unwrap().kind, "sms");
    let debug = format!("{:?}", store.account(INGRID).await.unwrap().unwrap());
    assert!(!debug.contains("argon2"), "{debug}");
}

async fn status_and_password_changes_are_stored(store: Store) {
    two_people(&store).await;
    store.create_account(&account(OLA)).await.unwrap();
    store
        .set_account_status(
            OLA,
            "blocked".parse().unwrap(),
            Some("denied_login"),
            NOW + 5,
        )
        .await
        .unwrap();
    let blocked = store.account(OLA).await.unwrap().unwrap();
    assert_eq!(blocked.status, "blocked");
    assert_eq!(blocked.blocked_reason.as_deref(), Some("denied_login"));
    assert_eq!((blocked.created_at, blocked.updated_at), (NOW, NOW + 5));

    store
        .set_account_status(OLA, "active".parse().unwrap(), None, NOW + 6)
        .await
        .unwrap();
    store
        .set_password_hash(OLA, "$argon2id$new", NOW + 7)
        .await
        .unwrap();
    let active = store.account(OLA).await.unwrap().unwrap();
    assert_eq!(
        (active.status.as_str(), active.blocked_reason),
        ("active", None)
    );
    assert_eq!(active.password_hash.as_deref(), Some("$argon2id$new"));

    assert!(matches!(
        store
            .set_account_status(INGRID, "blocked".parse().unwrap(), None, NOW)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_password_hash(INGRID, "x", NOW).await,
        Err(StoreError::NotFound)
    ));
}

async fn account_needs_a_registered_person(store: Store) {
    assert!(matches!(
        store.create_account(&account(INGRID)).await,
        Err(StoreError::MissingReference)
    ));
}
