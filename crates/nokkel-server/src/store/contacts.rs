//! The contact register: the mobile number and e-mail address public bodies use to
//! notify a person, each with the instant it was last confirmed.

use super::{with_pool, Store, StoreError};

/// A person's contact details.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ContactRecord {
    /// Identity number.
    pub pid: String,
    /// Mobile number (E.164).
    pub mobile: Option<String>,
    /// When the mobile number was last confirmed (unix seconds).
    pub mobile_confirmed_at: Option<i64>,
    /// E-mail address.
    pub email: Option<String>,
    /// When the e-mail address was last confirmed (unix seconds).
    pub email_confirmed_at: Option<i64>,
    /// Last change (unix seconds).
    pub updated_at: i64,
    /// The language notices are written in (`nb`, `nn`, `en`).
    pub lang: String,
}

/// Inserts or replaces a contact entry; binds pid, mobile, mobile_confirmed_at, email,
/// email_confirmed_at, updated_at, lang.
pub(super) const UPSERT_CONTACT: &str =
    "INSERT INTO contacts (pid, mobile, mobile_confirmed_at, email, \
             email_confirmed_at, updated_at, lang) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (pid) DO UPDATE SET mobile = excluded.mobile, \
             mobile_confirmed_at = excluded.mobile_confirmed_at, email = excluded.email, \
             email_confirmed_at = excluded.email_confirmed_at, updated_at = excluded.updated_at, \
             lang = excluded.lang";

impl Store {
    /// Inserts or replaces the contact details of `contact.pid`.
    /// `MissingReference` if the person is not in the register.
    pub async fn upsert_contact(&self, contact: &ContactRecord) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(UPSERT_CONTACT)
            .bind(&contact.pid)
            .bind(&contact.mobile)
            .bind(contact.mobile_confirmed_at)
            .bind(&contact.email)
            .bind(contact.email_confirmed_at)
            .bind(contact.updated_at)
            .bind(&contact.lang)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The contact details of `pid`, if any.
    pub async fn contact(&self, pid: &str) -> Result<Option<ContactRecord>, StoreError> {
        let sql = "SELECT pid, mobile, mobile_confirmed_at, email, email_confirmed_at, \
             updated_at, lang FROM contacts WHERE pid = $1";
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, ContactRecord>(sql)
            .bind(pid)
            .fetch_optional(pool)
            .await)?,
        )
    }
}
