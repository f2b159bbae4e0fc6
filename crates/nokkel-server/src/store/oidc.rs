//! The OpenID Connect provider's tables: registered clients, authorization requests that
//! wait for a login, single-use authorization codes and the access tokens issued for them.
//!
//! Codes and tokens arrive hashed (HMAC under a server pepper); the store never sees them
//! in clear. Single use is enforced by conditional `UPDATE`s, so under concurrent
//! requests exactly one wins on either backend.

use rusqlite::ToSql;

use super::direct::{execute, optional};
use super::logins::DECIDE_LOGIN_SQL;
use super::{redacted, with_pool, LoginTransition, Store, StoreError};

/// A registered relying party.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientRecord {
    /// The `client_id`.
    pub id: String,
    /// The name shown to citizens ("Skatteetaten").
    pub name: String,
    /// HMAC of the client secret (see `ServerSecrets::client_secret_hash`).
    pub secret_hash: Vec<u8>,
    /// Registered redirect URIs, a JSON array of strings.
    pub redirect_uris: String,
    /// Registered post-logout redirect URIs, a JSON array of strings.
    pub post_logout_redirect_uris: String,
    /// Scopes the client may request, space-separated.
    pub scopes: String,
    /// Whether any `http` loopback redirect URI is accepted, on any port (RFC 8252 §7.3).
    pub loopback_any_port: bool,
    /// The key of this client's pairwise subject identifiers.
    pub sector_salt: Vec<u8>,
    /// When the client was registered.
    pub created_at: i64,
}

impl std::fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret_hash", &redacted(&self.secret_hash))
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("scopes", &self.scopes)
            .field("loopback_any_port", &self.loopback_any_port)
            .field("sector_salt", &redacted(&self.sector_salt))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// An authorization request as the authorize endpoint validated and stored it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthorizationRequestRecord {
    /// Random id, the handle the login pages carry.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The validated redirect URI.
    pub redirect_uri: String,
    /// Requested scopes, space-separated, `openid` first.
    pub scope: String,
    /// The client's `state`.
    pub state: Option<String>,
    /// The client's `nonce`.
    pub nonce: Option<String>,
    /// The client's `ui_locales`.
    pub ui_locales: Option<String>,
    /// Whether `prompt=login` was asked for.
    pub prompt_login: bool,
    /// The client's `login_hint`.
    pub login_hint: Option<String>,
    /// The client's `acr_values`.
    pub acr_values: Option<String>,
    /// The PKCE S256 code challenge.
    pub code_challenge: String,
    /// When the request was made.
    pub created_at: i64,
    /// After this the request can no longer be completed.
    pub expires_at: i64,
    /// When it ended (with a code or an error); `None` while pending.
    pub finished_at: Option<i64>,
    /// `code` or `error` once finished.
    pub outcome: Option<String>,
}

/// A single-use authorization code (stored by hash) and what it stands for.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthorizationCodeRecord {
    /// HMAC of the code.
    pub code_hash: Vec<u8>,
    /// The request it finished.
    pub request_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was delivered to (must be repeated at the token endpoint).
    pub redirect_uri: String,
    /// The PKCE S256 code challenge.
    pub code_challenge: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The nonce to put in the ID token.
    pub nonce: Option<String>,
    /// The authenticated person.
    pub pid: String,
    /// Authentication methods, space-separated (`app`, or `pwd otp`).
    pub amr: String,
    /// When the person authenticated.
    pub auth_time: i64,
    /// When the code was issued.
    pub created_at: i64,
    /// After this the code is refused.
    pub expires_at: i64,
    /// When it was redeemed; a second redemption is refused.
    pub used_at: Option<i64>,
    /// When reuse was detected; tokens issued for the code stop working.
    pub tokens_revoked_at: Option<i64>,
}

impl std::fmt::Debug for AuthorizationCodeRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCodeRecord")
            .field("code_hash", &redacted(&self.code_hash))
            .field("request_id", &self.request_id)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("amr", &self.amr)
            .field("auth_time", &self.auth_time)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .field("tokens_revoked_at", &self.tokens_revoked_at)
            .finish_non_exhaustive()
    }
}

/// An access token (stored by hash) for the userinfo endpoint.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccessTokenRecord {
    /// HMAC of the token.
    pub token_hash: Vec<u8>,
    /// The code it was issued for (reuse of the code revokes it).
    pub code_hash: Vec<u8>,
    /// The client it was issued to.
    pub client_id: String,
    /// The person.
    pub pid: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// When it was issued.
    pub created_at: i64,
    /// After this it is refused.
    pub expires_at: i64,
}

impl std::fmt::Debug for AccessTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenRecord")
            .field("token_hash", &redacted(&self.token_hash))
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

const CLIENT_COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
     scopes, loopback_any_port, sector_salt, created_at";
const REQUEST_COLUMNS: &str = "id, client_id, redirect_uri, scope, state, nonce, ui_locales, \
     prompt_login, login_hint, acr_values, code_challenge, created_at, expires_at, finished_at, \
     outcome";
const CODE_COLUMNS: &str = "code_hash, request_id, client_id, redirect_uri, code_challenge, \
     scope, nonce, pid, amr, auth_time, created_at, expires_at, used_at, tokens_revoked_at";

impl AuthorizationCodeRecord {
    /// The values of [`CODE_COLUMNS`] in order, for the direct connection.
    fn direct_args(&self) -> [&dyn ToSql; 14] {
        [
            &self.code_hash,
            &self.request_id,
            &self.client_id,
            &self.redirect_uri,
            &self.code_challenge,
            &self.scope,
            &self.nonce,
            &self.pid,
            &self.amr,
            &self.auth_time,
            &self.created_at,
            &self.expires_at,
            &self.used_at,
            &self.tokens_revoked_at,
        ]
    }

    /// Reads a row of [`CODE_COLUMNS`] on the direct connection.
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            code_hash: row.get(0)?,
            request_id: row.get(1)?,
            client_id: row.get(2)?,
            redirect_uri: row.get(3)?,
            code_challenge: row.get(4)?,
            scope: row.get(5)?,
            nonce: row.get(6)?,
            pid: row.get(7)?,
            amr: row.get(8)?,
            auth_time: row.get(9)?,
            created_at: row.get(10)?,
            expires_at: row.get(11)?,
            used_at: row.get(12)?,
            tokens_revoked_at: row.get(13)?,
        })
    }
}

impl Store {
    /// Registers a client; `Conflict` if the id is taken.
    pub async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.write_client(client, "").await
    }

    /// Registers a client or updates its settings; an existing client keeps its sector
    /// salt and registration time, so the subject identifiers it sees do not change.
    pub async fn upsert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.write_client(
            client,
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             secret_hash = excluded.secret_hash, redirect_uris = excluded.redirect_uris, \
             post_logout_redirect_uris = excluded.post_logout_redirect_uris, \
             scopes = excluded.scopes, loopback_any_port = excluded.loopback_any_port",
        )
        .await
    }

    /// Inserts `client`, with `on_conflict` appended to the statement.
    async fn write_client(
        &self,
        client: &ClientRecord,
        on_conflict: &str,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO oauth_clients ({CLIENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9){on_conflict}"
        );
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&client.id)
            .bind(&client.name)
            .bind(&client.secret_hash)
            .bind(&client.redirect_uris)
            .bind(&client.post_logout_redirect_uris)
            .bind(&client.scopes)
            .bind(client.loopback_any_port)
            .bind(&client.sector_salt)
            .bind(client.created_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The client with id `id`.
    pub async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, ClientRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Stores a validated authorization request.
    pub async fn insert_authorization_request(
        &self,
        request: &AuthorizationRequestRecord,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO authorization_requests ({REQUEST_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        if let Some(direct) = self.direct() {
            let insert = |c: &mut rusqlite::Connection| {
                let args: [&dyn ToSql; 15] = [
                    &request.id,
                    &request.client_id,
                    &request.redirect_uri,
                    &request.scope,
                    &request.state,
                    &request.nonce,
                    &request.ui_locales,
                    &request.prompt_login,
                    &request.login_hint,
                    &request.acr_values,
                    &request.code_challenge,
                    &request.created_at,
                    &request.expires_at,
                    &request.finished_at,
                    &request.outcome,
                ];
                execute(c, &sql, &args)
            };
            return direct.run(insert).await.map(|_| ());
        }
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&request.id)
            .bind(&request.client_id)
            .bind(&request.redirect_uri)
            .bind(&request.scope)
            .bind(&request.state)
            .bind(&request.nonce)
            .bind(&request.ui_locales)
            .bind(request.prompt_login)
            .bind(&request.login_hint)
            .bind(&request.acr_values)
            .bind(&request.code_challenge)
            .bind(request.created_at)
            .bind(request.expires_at)
            .bind(request.finished_at)
            .bind(&request.outcome)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The authorization request `id`, finished or not.
    pub async fn authorization_request(
        &self,
        id: &str,
    ) -> Result<Option<AuthorizationRequestRecord>, StoreError> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM authorization_requests WHERE id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, AuthorizationRequestRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Ends a pending, unexpired request with an error; `false` if it was not pending
    /// (already finished by another call, or expired).
    pub async fn fail_authorization_request(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE authorization_requests SET finished_at = $2, outcome = 'error' \
             WHERE id = $1 AND finished_at IS NULL AND expires_at > $2";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// Ends the pending, unexpired request `code.request_id` by issuing `code` and, for an
    /// app login, moves `login` from approved to completed, all in one transaction; `false`
    /// (and nothing stored) if the request was not pending or the login not approved — so
    /// an approved login is handed to the relying party once, across restarts too.
    pub async fn complete_authorization_request(
        &self,
        code: &AuthorizationCodeRecord,
        now: i64,
        login: Option<&str>,
    ) -> Result<bool, StoreError> {
        let values = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14";
        let (approved, completed) = (
            LoginTransition::COMPLETE.from(),
            LoginTransition::COMPLETE.to(),
        );
        let none: Option<&str> = None;
        // Binds the record's columns as $1… (a macro: the query's driver differs per arm).
        macro_rules! bind_code {
            ($query:expr) => {
                $query
                    .bind(&code.code_hash)
                    .bind(&code.request_id)
                    .bind(&code.client_id)
                    .bind(&code.redirect_uri)
                    .bind(&code.code_challenge)
                    .bind(&code.scope)
                    .bind(&code.nonce)
                    .bind(&code.pid)
                    .bind(&code.amr)
                    .bind(code.auth_time)
                    .bind(code.created_at)
                    .bind(code.expires_at)
                    .bind(code.used_at)
                    .bind(code.tokens_revoked_at)
            };
        }
        let finish = "UPDATE authorization_requests SET finished_at = $2, \
             outcome = 'code' WHERE id = $1 AND finished_at IS NULL AND expires_at > $2";
        let insert = format!("INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES ({values})");
        if let Some(direct) = self.direct() {
            return direct
                .run(|c| {
                    let tx = super::direct::Immediate::begin(c)?;
                    if let Some(login) = login {
                        let complete: [&dyn ToSql; 6] =
                            [&login, &approved, &completed, &now, &none, &none];
                        if execute(&tx, DECIDE_LOGIN_SQL, &complete)? != 1 {
                            return Ok(false);
                        }
                    }
                    if execute(&tx, finish, &[&code.request_id, &now])? != 1 {
                        return Ok(false);
                    }
                    execute(&tx, &insert, &code.direct_args())?;
                    tx.commit()?;
                    Ok(true)
                })
                .await;
        }
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            if let Some(login) = login {
                let moved = sqlx::query(DECIDE_LOGIN_SQL)
                    .bind(login)
                    .bind(approved)
                    .bind(completed)
                    .bind(now)
                    .bind(none)
                    .bind(none)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if moved != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
            }
            let finished = sqlx::query(finish)
                .bind(&code.request_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if finished != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            bind_code!(sqlx::query(&insert)).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        }
        .await)
    }

    /// The authorization code with hash `code_hash`, used or not.
    pub async fn authorization_code(
        &self,
        code_hash: &[u8],
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        let sql = format!("SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_hash = $1");
        if let Some(direct) = self.direct() {
            return direct
                .run(|c| optional(c, &sql, &[&code_hash], AuthorizationCodeRecord::from_direct))
                .await;
        }
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, AuthorizationCodeRecord>(&sql)
            .bind(code_hash)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Marks the unused, unexpired code `token.code_hash` used and stores `token`, in one
    /// transaction; `false` (and nothing stored) if the code was used or expired — under
    /// concurrent redemptions exactly one gets `true`.
    pub async fn redeem_authorization_code(
        &self,
        token: &AccessTokenRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        let columns = "token_hash, code_hash, client_id, pid, scope, created_at, expires_at";
        let values = "$1, $2, $3, $4, $5, $6, $7";
        // Binds the record's columns as $1… (a macro: the query's driver differs per arm).
        macro_rules! bind_token {
            ($query:expr) => {
                $query
                    .bind(&token.token_hash)
                    .bind(&token.code_hash)
                    .bind(&token.client_id)
                    .bind(&token.pid)
                    .bind(&token.scope)
                    .bind(token.created_at)
                    .bind(token.expires_at)
            };
        }
        let consume = "UPDATE authorization_codes SET used_at = $2 \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2";
        let insert = format!("INSERT INTO access_tokens ({columns}) VALUES ({values})");
        if let Some(direct) = self.direct() {
            return direct
                .run(|c| {
                    let tx = super::direct::Immediate::begin(c)?;
                    if execute(&tx, consume, &[&token.code_hash, &now])? != 1 {
                        return Ok(false);
                    }
                    let row: [&dyn ToSql; 7] = [
                        &token.token_hash,
                        &token.code_hash,
                        &token.client_id,
                        &token.pid,
                        &token.scope,
                        &token.created_at,
                        &token.expires_at,
                    ];
                    execute(&tx, &insert, &row)?;
                    tx.commit()?;
                    Ok(true)
                })
                .await;
        }
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let consumed = sqlx::query(consume)
                .bind(&token.code_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if consumed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            bind_token!(sqlx::query(&insert)).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        }
        .await)
    }

    /// Revokes every token issued for the code (it was presented twice). Idempotent:
    /// the first revocation time is kept. `false` if there is no such code.
    pub async fn revoke_code_tokens(&self, code_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE authorization_codes \
             SET tokens_revoked_at = COALESCE(tokens_revoked_at, $2) WHERE code_hash = $1";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(code_hash)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// The access token with hash `token_hash` if it is unexpired at `now` and the code
    /// it was issued for has not been revoked.
    pub async fn live_access_token(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let sql = "SELECT t.token_hash, t.code_hash, t.client_id, t.pid, t.scope, \
             t.created_at, t.expires_at FROM access_tokens t \
             JOIN authorization_codes c ON c.code_hash = t.code_hash \
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND c.tokens_revoked_at IS NULL";
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, AccessTokenRecord>(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Deletes what can no longer be used: access tokens past expiry, codes that expired
    /// more than `keep_codes_for` seconds ago (kept that long so a late reuse still revokes
    /// their tokens) and finished or expired requests without a code. Returns rows deleted.
    pub async fn purge_oidc(&self, now: i64, keep_codes_for: i64) -> Result<u64, StoreError> {
        let tokens = "DELETE FROM access_tokens WHERE expires_at <= $1";
        let codes = "DELETE FROM authorization_codes WHERE expires_at <= $1 AND NOT EXISTS \
             (SELECT 1 FROM access_tokens t WHERE t.code_hash = authorization_codes.code_hash)";
        let requests = "DELETE FROM authorization_requests WHERE expires_at <= $1 AND NOT EXISTS \
             (SELECT 1 FROM authorization_codes c WHERE c.request_id = authorization_requests.id)";
        let mut total = 0;
        for (sql, cutoff) in [
            (tokens, now),
            (codes, now - keep_codes_for),
            (requests, now - keep_codes_for),
        ] {
            total += with_pool!(self, pool => sqlx::query(sql)
                .bind(cutoff)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(total)
    }
}
