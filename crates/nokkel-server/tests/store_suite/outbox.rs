//! SMS and e-mail outboxes: queued in order, listed newest first, bodies never in Debug.

use nokkel_server::store::{NewMessage, Store};

use crate::fixtures::NOW;

store_tests!(sms_and_email_are_separate_queues_listed_newest_first);

fn message(to: &str, body: &[u8], at: i64) -> NewMessage {
    NewMessage {
        recipient: to.to_owned(),
        body_sealed: body.to_vec(),
        purpose: "registration_otp".to_owned(),
        created_at: at,
    }
}

async fn sms_and_email_are_separate_queues_listed_newest_first(store: Store) {
    let first = store
        .push_sms(&message("+4791234567", b"one", NOW))
        .await
        .unwrap();
    let second = store
        .push_sms(&message("+4798765432", b"two", NOW + 1))
        .await
        .unwrap();
    let third = store
        .push_sms(&message("+4791234567", b"three", NOW + 2))
        .await
        .unwrap();
    assert!(first < second && second < third);
    store
        .push_email(&message("ingrid@example.no", b"mail", NOW))
        .await
        .unwrap();

    let sms = store.sms_outbox(2).await.unwrap();
    let bodies: Vec<&[u8]> = sms.iter().map(|m| m.body_sealed.as_slice()).collect();
    assert_eq!(bodies, [b"three".as_slice(), b"two".as_slice()]);
    assert_eq!(sms[0].recipient, "+4791234567");
    assert_eq!(sms[0].created_at, NOW + 2);

    let email = store.email_outbox(10).await.unwrap();
    assert_eq!(email.len(), 1);
    assert_eq!(email[0].recipient, "ingrid@example.no");
    let debug = format!("{:?}", email[0]);
    assert!(debug.contains("<redacted 4 bytes>"), "{debug}");
}
