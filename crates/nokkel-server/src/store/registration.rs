//! Completing a registration: consuming the letter, creating the account and writing the
//! contact register in one transaction, so that either all happen or none does.

use super::{with_pool, AccountRecord, ContactRecord, DeviceRecord, Store, StoreError};

/// What [`Store::complete_registration`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// The account exists now and the letter is used.
    Created,
    /// The letter was not pending and unexpired (used, locked, revoked, expired — or
    /// another registration consumed it first). Nothing changed.
    LetterUnavailable,
    /// The person already had an account. Nothing changed.
    AccountExists,
    /// The device (its key) is enrolled already, for this person or another. Nothing
    /// changed.
    DeviceExists,
}

impl Store {
    /// Consumes letter `letter_id`, creates `account`, upserts `contact` and, for app
    /// users, enrols `device`, atomically.
    pub async fn complete_registration(
        &self,
        letter_id: &str,
        account: &AccountRecord,
        contact: &ContactRecord,
        device: Option<&DeviceRecord>,
        now: i64,
    ) -> Result<RegistrationOutcome, StoreError> {
        let consume = "UPDATE letters SET state = 'used', used_at = $2 \
             WHERE id = $1 AND pid = $3 AND state = 'pending' AND expires_at > $2";
        let insert_account = super::accounts::INSERT_ACCOUNT;
        let upsert_contact = super::contacts::UPSERT_CONTACT;
        let insert_device = "INSERT INTO devices (id, pid, public_jwk, name, platform, \
             uv_methods, counter, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
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
            let created = sqlx::query(insert_account)
                .bind(&account.pid)
                .bind(account.kind)
                .bind(&account.password_hash)
                .bind(account.status)
                .bind(&account.blocked_reason)
                .bind(account.created_at)
                .bind(account.updated_at)
                .execute(&mut *tx)
                .await;
            match created.map_err(StoreError::from) {
                Ok(_) => {}
                Err(StoreError::Conflict) => {
                    tx.rollback().await?;
                    return Ok(RegistrationOutcome::AccountExists);
                }
                Err(other) => return Err(other),
            }
            if let Some(device) = device {
                let enrolled = sqlx::query(insert_device)
                    .bind(&device.id)
                    .bind(&device.pid)
                    .bind(&device.public_jwk)
                    .bind(&device.name)
                    .bind(&device.platform)
                    .bind(&device.uv_methods)
                    .bind(device.counter)
                    .bind(device.created_at)
                    .execute(&mut *tx)
                    .await;
                match enrolled.map_err(StoreError::from) {
                    Ok(_) => {}
                    Err(StoreError::Conflict) => {
                        tx.rollback().await?;
                        return Ok(RegistrationOutcome::DeviceExists);
                    }
                    Err(other) => return Err(other),
                }
            }
            sqlx::query(upsert_contact)
                .bind(&contact.pid)
                .bind(&contact.mobile)
                .bind(contact.mobile_confirmed_at)
                .bind(&contact.email)
                .bind(contact.email_confirmed_at)
                .bind(contact.updated_at)
                .bind(&contact.lang)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(RegistrationOutcome::Created)
        }
        .await)
    }
}
