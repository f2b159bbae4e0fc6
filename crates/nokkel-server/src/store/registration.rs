//! Completing a registration: consuming the letter, creating the account (or, with a
//! recovery letter, setting it up again) and writing the contact register in one
//! transaction, so that either all happen or none does.

use super::devices::insert_device;
use super::{with_pool, AccountRecord, ContactRecord, DeviceRecord, Store, StoreError};

/// What [`Store::complete_registration`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// The account exists now and the letter is used.
    Created,
    /// The existing account was set up again with a recovery letter: it is active, has the
    /// new kind and password, and these devices were revoked. The letter is used.
    Recovered {
        /// The ids of the devices that were active before.
        revoked_devices: Vec<String>,
    },
    /// The letter was not pending and unexpired (used, locked, revoked, expired — or
    /// another registration consumed it first). Nothing changed.
    LetterUnavailable,
    /// The person already had an account and this was not a recovery. Nothing changed.
    AccountExists,
    /// The device (its key) is enrolled already, for this person or another. Nothing
    /// changed.
    DeviceExists,
}

/// How [`Store::complete_registration`] treats the person's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationMode {
    /// Create the account; refuse if it exists.
    New,
    /// Set the account up again (recovery letter): replace its kind and password, make it
    /// active, revoke its devices, and keep its contact register except for a mobile
    /// proven now. Creates the account if it is gone.
    Recover,
}

/// Keeps the contact register's e-mail and language; takes a newly proven mobile.
const MERGE_CONTACT: &str = "INSERT INTO contacts (pid, mobile, mobile_confirmed_at, email, \
     email_confirmed_at, updated_at, lang) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (pid) DO UPDATE SET mobile = excluded.mobile, \
     mobile_confirmed_at = excluded.mobile_confirmed_at, updated_at = excluded.updated_at";

/// Replaces the account row of a recovery (or creates it).
const REPLACE_ACCOUNT: &str = "INSERT INTO accounts (pid, kind, password_hash, status, \
     blocked_reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (pid) DO UPDATE SET kind = excluded.kind, \
     password_hash = excluded.password_hash, status = excluded.status, \
     blocked_reason = excluded.blocked_reason, updated_at = excluded.updated_at";

impl Store {
    /// Consumes letter `letter_id`, creates (or, in [`RegistrationMode::Recover`], replaces)
    /// `account`, writes `contact` and, for app users, enrols `device`, atomically. In a
    /// recovery `contact` is written only when it carries a mobile, and only its mobile.
    pub async fn complete_registration(
        &self,
        letter_id: &str,
        account: &AccountRecord,
        contact: &ContactRecord,
        device: Option<&DeviceRecord>,
        mode: RegistrationMode,
        now: i64,
    ) -> Result<RegistrationOutcome, StoreError> {
        let consume = "UPDATE letters SET state = 'used', used_at = $2 \
             WHERE id = $1 AND pid = $3 AND state = 'pending' AND expires_at > $2";
        let write_account = match mode {
            RegistrationMode::New => super::accounts::INSERT_ACCOUNT,
            RegistrationMode::Recover => REPLACE_ACCOUNT,
        };
        let revoke_devices = "UPDATE devices SET revoked_at = $2 \
             WHERE pid = $1 AND revoked_at IS NULL RETURNING id";
        let write_contact = match mode {
            RegistrationMode::New => Some(super::contacts::UPSERT_CONTACT),
            RegistrationMode::Recover if contact.mobile.is_some() => Some(MERGE_CONTACT),
            RegistrationMode::Recover => None,
        };
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let consumed = sqlx::query(consume)
                .bind(letter_id)
                .bind(now)
                .bind(&account.pid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if consumed != 1 {
                tx.rollback().await?;
                return Ok(RegistrationOutcome::LetterUnavailable);
            }
            let written = sqlx::query(write_account)
                .bind(&account.pid)
                .bind(account.kind)
                .bind(&account.password_hash)
                .bind(account.status)
                .bind(&account.blocked_reason)
                .bind(account.created_at)
                .bind(account.updated_at)
                .execute(&mut *tx)
                .await;
            match written.map_err(StoreError::from) {
                Ok(_) => {}
                Err(StoreError::Conflict) => {
                    tx.rollback().await?;
                    return Ok(RegistrationOutcome::AccountExists);
                }
                Err(other) => return Err(other),
            }
            let revoked_devices: Vec<String> = match mode {
                RegistrationMode::New => Vec::new(),
                RegistrationMode::Recover => sqlx::query_scalar(revoke_devices)
                    .bind(&account.pid)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?,
            };
            if let Some(device) = device {
                match insert_device!(&mut *tx, device) {
                    Ok(_) => {}
                    Err(StoreError::Conflict) => {
                        tx.rollback().await?;
                        return Ok(RegistrationOutcome::DeviceExists);
                    }
                    Err(other) => return Err(other),
                }
            }
            if let Some(sql) = write_contact {
                sqlx::query(sql)
                    .bind(&contact.pid)
                    .bind(&contact.mobile)
                    .bind(contact.mobile_confirmed_at)
                    .bind(&contact.email)
                    .bind(contact.email_confirmed_at)
                    .bind(contact.updated_at)
                    .bind(&contact.lang)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(match mode {
                RegistrationMode::New => RegistrationOutcome::Created,
                RegistrationMode::Recover => RegistrationOutcome::Recovered { revoked_devices },
            })
        }
        .await)
    }
}
