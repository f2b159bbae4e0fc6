//! The contact register: upsert and read back.

use nokkel_server::store::{ContactRecord, Store, StoreError};

use crate::fixtures::{two_people, INGRID, NOW, OLA};

store_tests!(
    contact_details_are_upserted,
    contact_needs_a_registered_person
);

async fn contact_details_are_upserted(store: Store) {
    two_people(&store).await;
    assert_eq!(store.contact(INGRID).await.unwrap(), None);
    let mut contact = ContactRecord {
        pid: INGRID.to_owned(),
        mobile: Some("+4791234567".to_owned()),
        mobile_confirmed_at: Some(NOW),
        email: None,
        email_confirmed_at: None,
        updated_at: NOW,
        lang: "nn".to_owned(),
    };
    store.upsert_contact(&contact).await.unwrap();
    assert_eq!(store.contact(INGRID).await.unwrap(), Some(contact.clone()));

    contact.email = Some("ingrid@example.no".to_owned());
    contact.email_confirmed_at = Some(NOW + 100);
    contact.updated_at = NOW + 100;
    store.upsert_contact(&contact).await.unwrap();
    assert_eq!(store.contact(INGRID).await.unwrap(), Some(contact));
    assert_eq!(store.contact(OLA).await.unwrap(), None);
}

async fn contact_needs_a_registered_person(store: Store) {
    let contact = ContactRecord {
        pid: INGRID.to_owned(),
        mobile: None,
        mobile_confirmed_at: None,
        email: Some("x@example.no".to_owned()),
        email_confirmed_at: None,
        updated_at: NOW,
        lang: "nn".to_owned(),
    };
    assert!(matches!(
        store.upsert_contact(&contact).await,
        Err(StoreError::MissingReference)
    ));
}
