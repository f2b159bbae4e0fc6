//! Population register: upsert, lookup, CSV import (all or nothing).

use nokkel_server::store::{CsvError, Store, StoreError};

use crate::fixtures::{person, INGRID, NOW, OLA};

store_tests!(
    upsert_inserts_then_replaces_register_data,
    unknown_person_is_none,
    demo_population_imports_completely,
    import_with_a_bad_row_changes_nothing,
);

async fn upsert_inserts_then_replaces_register_data(store: Store) {
    let mut ingrid = person(INGRID, "Ingrid");
    store.upsert_person(&ingrid, NOW).await.unwrap();
    assert_eq!(store.person(INGRID).await.unwrap(), Some(ingrid.clone()));

    ingrid.address_kind = "none".parse().unwrap();
    ingrid.address_line = None;
    ingrid.postal_code = None;
    ingrid.city = None;
    ingrid.country = None;
    ingrid.family_name = "Sæther".to_owned();
    store.upsert_person(&ingrid, NOW + 60).await.unwrap();

    assert_eq!(store.person(INGRID).await.unwrap(), Some(ingrid));
    assert_eq!(store.count_people().await.unwrap(), 1);
}

async fn unknown_person_is_none(store: Store) {
    store
        .upsert_person(&person(INGRID, "Ingrid"), NOW)
        .await
        .unwrap();
    assert_eq!(store.person(OLA).await.unwrap(), None);
}

async fn demo_population_imports_completely(store: Store) {
    let csv = include_str!("../../../../assets/demo/population.csv");
    let imported = store.import_people_csv(csv.as_bytes(), NOW).await.unwrap();
    let rows = csv.lines().count() - 1;
    assert_eq!(imported, rows);
    assert_eq!(store.count_people().await.unwrap(), rows as i64);

    let abroad = store.person("05859013831").await.unwrap().unwrap();
    assert_eq!(abroad.given_name, "Marte");
    assert_eq!(abroad.address_kind, "foreign");
    assert_eq!(abroad.country.as_deref(), Some("SE"));
    let no_address = store.person("22848813714").await.unwrap().unwrap();
    assert_eq!(no_address.address_kind, "none");
    assert_eq!(no_address.city, None);

    // Importing again updates in place.
    store
        .import_people_csv(csv.as_bytes(), NOW + 1)
        .await
        .unwrap();
    assert_eq!(store.count_people().await.unwrap(), rows as i64);
}

async fn import_with_a_bad_row_changes_nothing(store: Store) {
    store
        .upsert_person(&person(INGRID, "Ingrid"), NOW)
        .await
        .unwrap();
    let csv = "pid,given_name,family_name,birth_date,address_kind,address_line,postal_code,city,country,status\n\
               02877213709,Ola,Håkonsen,1972-07-02,domestic,Strandgaten 45,5013,Bergen,NO,resident\n\
               14838514058,Ingrid,Changed,1985-03-14,domestic,Storgata 1,0155,Oslo,NO,resident\n\
               30919413821,Siri,Åsheim,1994-11-30,domestic,Storgata 80,9008,Tromsø,NO,resident\n";
    let error = store
        .import_people_csv(csv.as_bytes(), NOW)
        .await
        .unwrap_err();
    match error {
        StoreError::Csv(CsvError::InvalidRows(rows)) => {
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert_eq!(rows[0].line, 4);
            assert!(
                rows[0].message.contains("check digits"),
                "{}",
                rows[0].message
            );
        }
        other => panic!("expected invalid rows, got {other:?}"),
    }
    assert_eq!(store.count_people().await.unwrap(), 1);
    assert_eq!(
        store.person(INGRID).await.unwrap().unwrap().family_name,
        "Nordmann"
    );
}
