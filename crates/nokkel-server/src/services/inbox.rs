//! The demo inbox: the letters and text messages the outboxes hold, with their addressees,
//! for `/dev/letters` and `/dev/sms` in demo mode.

use super::{Deps, ServiceError};
use crate::store::{LetterRecord, MessageRecord, PersonRecord};

/// The newest `limit` letters, newest first.
pub async fn letters(deps: &Deps, limit: i64) -> Result<Vec<LetterRecord>, ServiceError> {
    Ok(deps.store.letters_outbox(limit).await?)
}

/// Letter `id`, if it exists.
pub async fn letter(deps: &Deps, id: &str) -> Result<Option<LetterRecord>, ServiceError> {
    Ok(deps.store.letter(id).await?)
}

/// The newest `limit` text messages, newest first.
pub async fn text_messages(deps: &Deps, limit: i64) -> Result<Vec<MessageRecord>, ServiceError> {
    Ok(deps.store.sms_outbox(limit).await?)
}

/// The person a letter is addressed to, as the population register has them.
pub async fn addressee(deps: &Deps, pid: &str) -> Result<Option<PersonRecord>, ServiceError> {
    Ok(deps.store.person(pid).await?)
}
