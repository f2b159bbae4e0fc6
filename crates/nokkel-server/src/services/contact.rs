//! The contact register: the mobile number and e-mail address public bodies use to notify
//! a person. Registered with the account; the person can change or confirm them later.

use nokkel_core::contact::EmailAddress;
use nokkel_core::phone::MobileNumber;
use nokkel_core::statements::Action;
use serde_json::json;

use super::notices::{self, Notice};
use super::{audit, confirmation, ServiceError};
use crate::i18n::Lang;
use crate::services::Deps;
use crate::store::{ContactRecord, DeviceRecord};

/// Replaces the entry of `device`'s person, with `statement` confirming exactly these
/// values after fresh user verification. Saving confirms the given values as current (the
/// date is the "last confirmed" the register shows); `None` removes a value. `lang`, when
/// given, is the language the person's notices are written in from now on.
pub async fn update(
    deps: &Deps,
    device: &DeviceRecord,
    statement: Option<&str>,
    mobile: Option<&str>,
    email: Option<&str>,
    lang: Option<Lang>,
) -> Result<ContactRecord, ServiceError> {
    let action = Action::UpdateContact {
        mobile: mobile.map(str::to_owned),
        email: email.map(str::to_owned),
    };
    confirmation::confirm(deps, device, statement, &action).await?;
    let pid = device.pid.as_str();
    let mobile = mobile.map(|m| MobileNumber::parse("47", m)).transpose()?;
    let email = email
        .map(EmailAddress::parse)
        .transpose()
        .map_err(|_| ServiceError::Email)?;
    let now = deps.clock.unix();
    let previous = deps.store.contact(pid).await?;
    let record = ContactRecord {
        pid: pid.to_owned(),
        mobile_confirmed_at: mobile.as_ref().map(|_| now),
        mobile: mobile.map(|m| m.e164().to_owned()),
        email_confirmed_at: email.as_ref().map(|_| now),
        email: email.map(|e| e.as_str().to_owned()),
        updated_at: now,
        // The language the person uses now, else the one they registered in.
        lang: match (lang, &previous) {
            (Some(lang), _) => lang.tag().to_owned(),
            (None, Some(p)) => p.lang.clone(),
            (None, None) => Lang::default().tag().to_owned(),
        },
    };
    deps.store.upsert_contact(&record).await?;
    let new_email = record.email.is_some()
        && previous.as_ref().and_then(|p| p.email.as_ref()) != record.email.as_ref();
    audit(
        deps,
        "contact_updated",
        Some(pid),
        None,
        json!({ "mobile": record.mobile.is_some(), "email": record.email.is_some() }),
    )
    .await;
    if new_email {
        // The new address hears that it was registered, so a typo or a stranger's address
        // comes to light.
        notices::notify(deps, pid, Notice::ContactEmail).await?;
    }
    Ok(record)
}

/// `pid`'s entry in the contact register, if any.
pub async fn entry(deps: &Deps, pid: &str) -> Result<Option<ContactRecord>, ServiceError> {
    Ok(deps.store.contact(pid).await?)
}

/// `pid`'s registered mobile number (E.164), if any.
pub async fn mobile(deps: &Deps, pid: &str) -> Result<Option<String>, ServiceError> {
    Ok(entry(deps, pid).await?.and_then(|c| c.mobile))
}
