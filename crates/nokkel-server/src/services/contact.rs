//! The contact register: the mobile number and e-mail address public bodies use to notify
//! a person. Registered with the account; the person can change or confirm them later.

use nokkel_core::contact::EmailAddress;
use nokkel_core::phone::MobileNumber;
use serde_json::json;

use super::{audit, ServiceError};
use crate::services::Deps;
use crate::store::ContactRecord;

/// Replaces `pid`'s entry. Saving confirms the given values as current (the date is the
/// "last confirmed" the register shows); `None` removes a value.
pub async fn update(
    deps: &Deps,
    pid: &str,
    mobile: Option<&str>,
    email: Option<&str>,
) -> Result<ContactRecord, ServiceError> {
    let mobile = mobile.map(|m| MobileNumber::parse("47", m)).transpose()?;
    let email = email
        .map(EmailAddress::parse)
        .transpose()
        .map_err(|_| ServiceError::Email)?;
    let now = deps.clock.unix();
    let record = ContactRecord {
        pid: pid.to_owned(),
        mobile_confirmed_at: mobile.as_ref().map(|_| now),
        mobile: mobile.map(|m| m.e164().to_owned()),
        email_confirmed_at: email.as_ref().map(|_| now),
        email: email.map(|e| e.as_str().to_owned()),
        updated_at: now,
    };
    deps.store.upsert_contact(&record).await?;
    audit(
        deps,
        "contact_updated",
        Some(pid),
        None,
        json!({ "mobile": record.mobile.is_some(), "email": record.email.is_some() }),
    )
    .await;
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
