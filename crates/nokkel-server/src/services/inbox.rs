//! The demo inbox: the letters and text messages the outboxes hold, with their addressees,
//! for `/dev/letters` and `/dev/sms` in demo mode.

use super::{Deps, ServiceError};
use crate::store::{Channel, LetterRecord, MessageRecord, PersonRecord};

/// One page of the demo inbox: `limit` items (1 to [`MAX_PAGE`]) after the `offset` newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// How many items at most.
    pub limit: i64,
    /// How many of the newest to skip.
    pub offset: i64,
}

/// Items per page unless asked otherwise.
pub const DEFAULT_PAGE: i64 = 200;
/// The largest page.
pub const MAX_PAGE: i64 = 1000;

impl Page {
    /// A page from the query's `limit` and `offset`, clamped to what is served.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Self {
        Self {
            limit: limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
            offset: offset.unwrap_or(0).max(0),
        }
    }

    /// The page after this one, if this one came back full (there may be more).
    pub fn next(self, returned: usize) -> Option<Page> {
        (i64::try_from(returned).ok()? >= self.limit).then_some(Page {
            limit: self.limit,
            offset: self.offset + self.limit,
        })
    }
}

/// Letters, newest first.
pub async fn letters(deps: &Deps, page: Page) -> Result<Vec<LetterRecord>, ServiceError> {
    Ok(deps.store.letters_outbox(page.limit, page.offset).await?)
}

/// Letter `id`, if it exists.
pub async fn letter(deps: &Deps, id: &str) -> Result<Option<LetterRecord>, ServiceError> {
    Ok(deps.store.letter(id).await?)
}

/// Text messages, newest first.
pub async fn text_messages(deps: &Deps, page: Page) -> Result<Vec<MessageRecord>, ServiceError> {
    Ok(deps
        .store
        .messages_page(Channel::Sms, page.limit, page.offset)
        .await?)
}

/// The person a letter is addressed to, as the population register has them.
pub async fn addressee(deps: &Deps, pid: &str) -> Result<Option<PersonRecord>, ServiceError> {
    Ok(deps.store.person(pid).await?)
}
