//! Shared test data.

use nokkel_server::store::{LetterRecord, PersonRecord, Store};

/// Ingrid Sæther from the demo population (synthetic number).
pub const INGRID: &str = "14838514058";
/// Ola Håkonsen from the demo population (synthetic number).
pub const OLA: &str = "02877213709";

/// A plausible `now`: 2026-11-21T12:00:00Z.
pub const NOW: i64 = 1_795_262_400;

pub fn person(pid: &str, given_name: &str) -> PersonRecord {
    PersonRecord {
        pid: pid.to_owned(),
        given_name: given_name.to_owned(),
        family_name: "Nordmann".to_owned(),
        birth_date: "1985-03-14".to_owned(),
        address_kind: "domestic".parse().unwrap(),
        address_line: Some("Storgata 1".to_owned()),
        postal_code: Some("0155".to_owned()),
        city: Some("Oslo".to_owned()),
        country: Some("NO".to_owned()),
        status: "resident".parse().unwrap(),
    }
}

/// Registers Ingrid and Ola.
pub async fn two_people(store: &Store) {
    store
        .upsert_person(&person(INGRID, "Ingrid"), NOW)
        .await
        .unwrap();
    store.upsert_person(&person(OLA, "Ola"), NOW).await.unwrap();
}

/// A pending letter for `pid` created at `created_at`, valid for 30 days.
pub fn letter(id: &str, pid: &str, created_at: i64) -> LetterRecord {
    LetterRecord {
        id: id.to_owned(),
        pid: pid.to_owned(),
        code_hash: vec![0xAA; 32],
        code_sealed: vec![0xBB; 48],
        recovery: false,
        state: "pending".parse().unwrap(),
        failed_attempts: 0,
        created_at,
        expires_at: created_at + 30 * 86_400,
        delivered_by: "2026-12-07".to_owned(),
        abroad: false,
        used_at: None,
    }
}
