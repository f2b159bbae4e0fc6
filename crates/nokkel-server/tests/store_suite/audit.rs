//! The audit log: append order, per person and most recent.

use nokkel_server::services::audit_writer::AuditWriter;
use nokkel_server::store::{NewAuditEvent, Store};

use crate::fixtures::{INGRID, NOW, OLA};

store_tests!(
    events_are_listed_per_person_and_most_recent_first,
    the_writer_keeps_order_across_batches_and_flush_waits_for_them,
);

fn event(at: i64, name: &str, pid: Option<&str>) -> NewAuditEvent {
    NewAuditEvent {
        at,
        event: name.to_owned(),
        pid: pid.map(str::to_owned),
        client_ip: Some("192.0.2.7".to_owned()),
        detail: r#"{"attempts":1}"#.to_owned(),
    }
}

async fn events_are_listed_per_person_and_most_recent_first(store: Store) {
    // Events may name people who are not in the register (e.g. refused orders).
    store
        .append_audit_batch(&[
            event(NOW, "letter_ordered", Some(INGRID)),
            event(NOW + 1, "order_refused", None),
        ])
        .await
        .unwrap();
    store
        .append_audit_batch(&[event(NOW + 2, "letter_code_failed", Some(INGRID))])
        .await
        .unwrap();
    store
        .append_audit_batch(&[event(NOW + 3, "letter_ordered", Some(OLA))])
        .await
        .unwrap();
    store.append_audit_batch(&[]).await.unwrap();

    let ingrid: Vec<String> = store
        .audit_for(INGRID)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(ingrid, ["letter_ordered", "letter_code_failed"]);

    let recent = store.recent_audit(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].pid.as_deref(), Some(OLA));
    assert_eq!(recent[1].event, "letter_code_failed");
    assert_eq!(recent[1].detail, r#"{"attempts":1}"#);
    assert_eq!(recent[1].client_ip.as_deref(), Some("192.0.2.7"));
    assert!(recent[0].id > recent[1].id);
}

async fn the_writer_keeps_order_across_batches_and_flush_waits_for_them(store: Store) {
    let writer = AuditWriter::spawn(store.clone());
    // More than one batch's worth, queued without waiting.
    for n in 0..450 {
        writer.append(event(NOW + n, &format!("event_{n}"), Some(INGRID)));
    }
    writer.flush().await;
    let events: Vec<String> = store
        .audit_for(INGRID)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    let expected: Vec<String> = (0..450).map(|n| format!("event_{n}")).collect();
    assert_eq!(events, expected);
}
