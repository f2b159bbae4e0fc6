//! Letter orders: counting per person and per client IP since an instant.

use nokkel_server::store::{NewOrder, OrderSubject, Store};

use crate::fixtures::{INGRID, NOW, OLA};

store_tests!(orders_are_counted_per_person_and_per_ip_since_an_instant);

fn order(pid: Option<&str>, ip: &str, at: i64, outcome: &str) -> NewOrder {
    NewOrder {
        pid: pid.map(str::to_owned),
        client_ip: ip.to_owned(),
        created_at: at,
        outcome: outcome.to_owned(),
    }
}

async fn orders_are_counted_per_person_and_per_ip_since_an_instant(store: Store) {
    // Orders need no register entry: refused orders for unknown people are counted too.
    let a = store
        .insert_order(&order(Some(INGRID), "192.0.2.1", NOW - 7200, "letter_sent"))
        .await
        .unwrap();
    let b = store
        .insert_order(&order(
            Some(INGRID),
            "192.0.2.2",
            NOW - 60,
            "refused_outstanding",
        ))
        .await
        .unwrap();
    store
        .insert_order(&order(Some(OLA), "192.0.2.1", NOW, "letter_sent"))
        .await
        .unwrap();
    store
        .insert_order(&order(None, "192.0.2.1", NOW, "refused_invalid_pid"))
        .await
        .unwrap();
    assert!(b > a, "ids increase");

    let count = |subject| {
        let store = store.clone();
        async move { store.count_orders_since(subject, NOW - 3600).await.unwrap() }
    };
    assert_eq!(count(OrderSubject::Person(INGRID)).await, 1);
    assert_eq!(count(OrderSubject::Person(OLA)).await, 1);
    assert_eq!(count(OrderSubject::ClientIp("192.0.2.1")).await, 2);
    assert_eq!(count(OrderSubject::ClientIp("192.0.2.9")).await, 0);
    assert_eq!(
        store
            .count_orders_since(OrderSubject::Person(INGRID), NOW - 7200)
            .await
            .unwrap(),
        2,
        "`since` is inclusive"
    );
    let outcomes: Vec<String> = store
        .orders_for(INGRID)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.outcome)
        .collect();
    assert_eq!(outcomes, ["refused_outstanding", "letter_sent"]);
}
