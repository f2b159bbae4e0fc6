//! The outbox: queued per channel, claimed under a lease by one worker at a time, retried,
//! dead-lettered, queued again by an operator; bodies never in Debug.

use std::collections::HashSet;

use nokkel_server::store::{Channel, NewMessage, OutboxFilter, OutboxState, Store, StoreError};

use crate::fixtures::NOW;

store_tests!(
    channels_are_listed_apart_newest_first,
    a_claim_leases_due_messages_to_one_worker,
    failures_retry_then_die_and_an_operator_requeues,
    concurrent_claimers_never_share_a_message,
    idempotency_keys_are_unique,
    old_sent_and_discarded_messages_are_purged,
);

const MS: i64 = NOW * 1000;

fn message(channel: Channel, key: &str, to: &str, body: &[u8], at: i64) -> NewMessage {
    NewMessage {
        channel,
        idempotency_key: key.to_owned(),
        recipient: to.to_owned(),
        body_sealed: body.to_vec(),
        purpose: "registration_otp".to_owned(),
        lang: "nn".to_owned(),
        created_at: at,
    }
}

async fn channels_are_listed_apart_newest_first(store: Store) {
    let sms = |key: &str, body: &[u8], at| message(Channel::Sms, key, "+4791234567", body, at);
    let first = store.queue_message(&sms("a", b"one", NOW)).await.unwrap();
    let second = store
        .queue_message(&sms("b", b"two", NOW + 1))
        .await
        .unwrap();
    let third = store
        .queue_message(&sms("c", b"three", NOW + 2))
        .await
        .unwrap();
    assert!(first < second && second < third);
    store
        .queue_message(&message(
            Channel::Email,
            "d",
            "ingrid@example.no",
            b"mail",
            NOW,
        ))
        .await
        .unwrap();

    let page = store.messages_page(Channel::Sms, 2, 0).await.unwrap();
    let bodies: Vec<&[u8]> = page.iter().map(|m| m.body_sealed.as_slice()).collect();
    assert_eq!(bodies, [b"three".as_slice(), b"two".as_slice()]);
    assert_eq!(page[0].recipient, "+4791234567");
    assert_eq!(page[0].created_at, NOW + 2);
    assert_eq!(page[0].state, OutboxState::Queued);
    assert_eq!(page[0].lang, "nn");
    assert_eq!(
        store.messages_page(Channel::Sms, 2, 2).await.unwrap()[0].id,
        first
    );

    let email = store.messages_page(Channel::Email, 10, 0).await.unwrap();
    assert_eq!(email.len(), 1);
    let debug = format!("{:?}", email[0]);
    assert!(debug.contains("<redacted 4 bytes>"), "{debug}");
    assert!(!debug.contains("mail\""), "{debug}");

    let stats = store.outbox_stats().await.unwrap();
    let of = |c| *stats.iter().find(|s| s.channel == c).unwrap();
    assert_eq!(of(Channel::Sms).queued, 3);
    assert_eq!(of(Channel::Sms).oldest_queued_at, Some(NOW));
    assert_eq!(of(Channel::Email).queued, 1);
    assert_eq!(of(Channel::Letter).queued, 0);
    assert_eq!(of(Channel::Letter).oldest_queued_at, None);
}

async fn a_claim_leases_due_messages_to_one_worker(store: Store) {
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        store
            .queue_message(&message(
                Channel::Sms,
                key,
                "+4791234567",
                b"x",
                NOW + i as i64,
            ))
            .await
            .unwrap();
    }
    store
        .queue_message(&message(Channel::Email, "e", "a@example.no", b"x", NOW))
        .await
        .unwrap();
    // Not due before it was queued.
    let early = store
        .claim_due_messages(Channel::Sms, MS - 1, MS + 60_000, 10)
        .await
        .unwrap();
    assert!(early.is_empty());

    let now = MS + 5_000;
    let claimed = store
        .claim_due_messages(Channel::Sms, now, now + 60_000, 2)
        .await
        .unwrap();
    let keys: Vec<&str> = claimed.iter().map(|m| m.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["a", "b"], "oldest first, only the channel asked for");
    assert!(claimed.iter().all(|m| m.attempts == 1));
    assert!(claimed
        .iter()
        .all(|m| m.claimed_until_ms == Some(now + 60_000)));

    // While leased, nobody else gets them; the third is still free.
    let other = store
        .claim_due_messages(Channel::Sms, now + 1, now + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].idempotency_key, "c");

    store
        .mark_message_sent(claimed[0].id, NOW + 6)
        .await
        .unwrap();
    let sent = store.outbox_message(claimed[0].id).await.unwrap().unwrap();
    assert_eq!(sent.state, OutboxState::Sent);
    assert_eq!(sent.sent_at, Some(NOW + 6));
    assert_eq!(sent.claimed_until_ms, None);

    // The lease of a worker that died runs out; then the message is claimed again.
    let after_lease = store
        .claim_due_messages(Channel::Sms, now + 60_000, now + 120_000, 10)
        .await
        .unwrap();
    let keys: Vec<&str> = after_lease
        .iter()
        .map(|m| m.idempotency_key.as_str())
        .collect();
    assert_eq!(keys, ["b", "c"]);
    assert_eq!(after_lease[0].attempts, 2);

    // A single-process store frees every lease at start.
    assert_eq!(store.release_claims().await.unwrap(), 2);
    let again = store
        .claim_due_messages(Channel::Sms, now + 60_001, now + 120_000, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
}

async fn failures_retry_then_die_and_an_operator_requeues(store: Store) {
    let id = store
        .queue_message(&message(Channel::Sms, "k", "+4791234567", b"x", NOW))
        .await
        .unwrap();
    let claimed = store
        .claim_due_messages(Channel::Sms, MS, MS + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .mark_message_failed(id, Some(MS + 10_000), "SMS aggregator answered 503")
        .await
        .unwrap();
    let waiting = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(waiting.state, OutboxState::Queued);
    assert_eq!(waiting.next_attempt_ms, MS + 10_000);
    assert_eq!(waiting.claimed_until_ms, None);
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("SMS aggregator answered 503")
    );
    // Not before its backoff has passed.
    assert!(store
        .claim_due_messages(Channel::Sms, MS + 9_999, MS + 60_000, 10)
        .await
        .unwrap()
        .is_empty());
    let retried = store
        .claim_due_messages(Channel::Sms, MS + 10_000, MS + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(retried[0].attempts, 2);
    store
        .mark_message_failed(id, None, "gave up")
        .await
        .unwrap();
    let dead = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(dead.state, OutboxState::Dead);
    assert!(store
        .claim_due_messages(Channel::Sms, MS + 999_999, MS + 1_060_000, 10)
        .await
        .unwrap()
        .is_empty());

    let listed = store
        .outbox_list(
            OutboxFilter {
                state: Some(OutboxState::Dead),
                channel: None,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let stats = store.outbox_stats().await.unwrap();
    assert_eq!(
        stats
            .iter()
            .find(|s| s.channel == Channel::Sms)
            .unwrap()
            .dead,
        1
    );

    // Queued again: tries start over, due at once.
    assert!(store.requeue_message(id, MS + 20_000).await.unwrap());
    assert!(!store.requeue_message(id, MS + 20_000).await.unwrap());
    let requeued = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(
        (requeued.state, requeued.attempts, requeued.next_attempt_ms),
        (OutboxState::Queued, 0, MS + 20_000)
    );
    // Discarded: never sent, but can be queued again.
    assert!(store.discard_message(id).await.unwrap());
    assert!(!store.discard_message(id).await.unwrap());
    assert!(store
        .claim_due_messages(Channel::Sms, MS + 999_999, MS + 1_060_000, 10)
        .await
        .unwrap()
        .is_empty());

    // Requeue every dead message at once, per channel.
    let other = store
        .queue_message(&message(Channel::Email, "m", "a@example.no", b"x", NOW))
        .await
        .unwrap();
    store
        .mark_message_failed(other, None, "550 no such user")
        .await
        .unwrap();
    assert_eq!(
        store
            .requeue_dead_messages(Some(Channel::Sms), MS)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.requeue_dead_messages(None, MS).await.unwrap(), 1);
    assert_eq!(
        store.outbox_message(other).await.unwrap().unwrap().state,
        OutboxState::Queued
    );
}

async fn concurrent_claimers_never_share_a_message(store: Store) {
    for i in 0..200 {
        store
            .queue_message(&message(
                Channel::Sms,
                &format!("k{i}"),
                "+4791234567",
                b"x",
                NOW,
            ))
            .await
            .unwrap();
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim_due_messages(Channel::Sms, MS, MS + 600_000, 7)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    break mine;
                }
                mine.extend(claimed.into_iter().map(|m| m.id));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 200, "every message claimed once");
    assert_eq!(unique.len(), 200, "no message claimed twice");
}

async fn idempotency_keys_are_unique(store: Store) {
    store
        .queue_message(&message(Channel::Sms, "same", "+4791234567", b"x", NOW))
        .await
        .unwrap();
    let err = store
        .queue_message(&message(Channel::Email, "same", "a@example.no", b"y", NOW))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
}

async fn old_sent_and_discarded_messages_are_purged(store: Store) {
    let mut ids = Vec::new();
    for key in ["sent", "discarded", "dead", "queued", "recent"] {
        let at = if key == "recent" { NOW + 100 } else { NOW };
        ids.push(
            store
                .queue_message(&message(Channel::Sms, key, "+4791234567", b"x", at))
                .await
                .unwrap(),
        );
    }
    store.mark_message_sent(ids[0], NOW).await.unwrap();
    assert!(store.discard_message(ids[1]).await.unwrap());
    store.mark_message_failed(ids[2], None, "x").await.unwrap();
    store.mark_message_sent(ids[4], NOW + 100).await.unwrap();

    assert_eq!(store.purge_outbox(NOW + 50).await.unwrap(), 2);
    let left: Vec<String> = store
        .outbox_list(OutboxFilter::default(), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.idempotency_key)
        .collect();
    assert_eq!(left, ["dead", "queued", "recent"]);
}
