//! Demo mode's data: the synthetic population from `assets/demo/population.csv`, seeded at
//! start-up, including the people who are meant to be registered already.

use nokkel_core::random::SeededRandom;

use crate::services::password;
use crate::store::{
    people::parse_population, AccountKind, AccountRecord, AccountStatus, ContactRecord, Store,
    StoreError,
};

/// The demo population, compiled into the binary.
pub const POPULATION_CSV: &str = include_str!("../../../assets/demo/population.csv");

/// The password of demo people seeded as SMS users (documented in assets/demo/README.md).
pub const DEMO_SMS_PASSWORD: &str = "demo-passord-2026";

/// A Norwegian demo mobile number for seeded accounts (a number range reserved for
/// documentation use would be better; Norway has none, so a clearly fake one).
const DEMO_MOBILE: &str = "+4799999999";

/// Seeds the demo population; idempotent (people are upserted, existing accounts kept).
pub async fn seed(store: &Store, now: i64) -> Result<usize, StoreError> {
    let rows = parse_population(POPULATION_CSV)?;
    let people: Vec<_> = rows.iter().map(|r| r.person.clone()).collect();
    store.upsert_people(&people, now).await?;
    for row in rows.iter().filter(|r| r.registered.is_some()) {
        let pid = &row.person.pid;
        if store.account(pid).await?.is_some() {
            continue;
        }
        let kind = match row.registered.as_deref() {
            Some("app") => AccountKind::App,
            _ => AccountKind::Sms,
        };
        let password_hash = if kind == AccountKind::Sms {
            // The demo password is published, so a fixed salt hides nothing, and the
            // seeded data is the same on every start.
            password::salt(&SeededRandom::new(2026))
                .and_then(|salt| password::hash(DEMO_SMS_PASSWORD, &salt))
        } else {
            None
        };
        store
            .create_account(&AccountRecord {
                pid: pid.clone(),
                kind,
                password_hash,
                status: AccountStatus::Active,
                blocked_reason: None,
                created_at: now,
                updated_at: now,
            })
            .await?;
        store
            .upsert_contact(&ContactRecord {
                pid: pid.clone(),
                mobile: Some(DEMO_MOBILE.to_owned()),
                mobile_confirmed_at: Some(now),
                email: None,
                email_confirmed_at: None,
                updated_at: now,
                lang: crate::i18n::Lang::default().tag().to_owned(),
            })
            .await?;
    }
    Ok(people.len())
}
