//! Login transactions: one row per login attempt, its challenge, and how it ended. The
//! state machine is enforced with conditional updates, so of concurrent answers exactly
//! one decides a login. Also the replay cache for device request proofs.

use rusqlite::ToSql;

use super::direct::execute;
use super::{text_enum, with_pool, Store, StoreError};

text_enum! {
    /// Where a login transaction stands. It moves only by a [`LoginTransition`].
    pub enum LoginState {
        /// Waiting for the person (app approval, or password and SMS code).
        Pending = "pending",
        /// Approved in the app (or password and code were right); not yet turned into a code.
        Approved = "approved",
        /// Denied in the app.
        Denied = "denied",
        /// Denied and reported as "this wasn't me".
        Reported = "reported",
        /// The app user picked another number than the browser showed.
        WrongNumber = "wrong_number",
        /// Nobody answered in time.
        Expired = "expired",
        /// Cancelled in the browser, or replaced by a newer login of the same person.
        Cancelled = "cancelled",
        /// Approved and handed to the relying party (the authorization code was issued).
        Completed = "completed",
    }
}

text_enum! {
    /// How a login is answered.
    pub enum LoginMethod {
        /// Approved in the authenticator app.
        App = "app",
        /// Password and SMS code.
        Sms = "sms",
    }
}

/// A move of a login from one state to another. Only the moves named here exist (the
/// fields are private), so an illegal transition cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginTransition {
    from: LoginState,
    to: LoginState,
}

impl LoginTransition {
    /// The app approved it.
    pub const APPROVE: Self = Self::new(LoginState::Pending, LoginState::Approved);
    /// The app denied it.
    pub const DENY: Self = Self::new(LoginState::Pending, LoginState::Denied);
    /// The app denied it and reported it as not theirs.
    pub const REPORT: Self = Self::new(LoginState::Pending, LoginState::Reported);
    /// The app picked the wrong number.
    pub const WRONG_NUMBER: Self = Self::new(LoginState::Pending, LoginState::WrongNumber);
    /// The browser cancelled it.
    pub const CANCEL: Self = Self::new(LoginState::Pending, LoginState::Cancelled);
    /// An approved login became the relying party's code (once).
    pub const COMPLETE: Self = Self::new(LoginState::Approved, LoginState::Completed);

    const fn new(from: LoginState, to: LoginState) -> Self {
        Self { from, to }
    }

    /// The state the login must be in.
    pub const fn from(self) -> LoginState {
        self.from
    }

    /// The state it moves to.
    pub const fn to(self) -> LoginState {
        self.to
    }
}

/// One login transaction.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginRecord {
    /// The login id, which is also the challenge id.
    pub id: String,
    /// The OpenID Connect authorization request this login answers, if any.
    pub request_id: Option<String>,
    /// Who is logging in.
    pub pid: String,
    /// How it is answered.
    pub method: LoginMethod,
    /// The relying party's display name.
    pub service: String,
    /// Browser from the User-Agent.
    pub browser: String,
    /// Operating system from the User-Agent.
    pub os: String,
    /// Approximate place, if known.
    pub place: Option<String>,
    /// The number the browser shows (app logins; 0 for SMS logins).
    pub number: i64,
    /// nokkel-core's serialized `PendingLogin` (server-side only; never sent out).
    pub pending: String,
    /// Where it stands.
    pub state: LoginState,
    /// When the login started (unix seconds).
    pub created_at: i64,
    /// When the challenge expires.
    pub expires_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// The device that answered.
    pub device_id: Option<String>,
    /// The user-verification method of an approval.
    pub uv: Option<String>,
    /// The client address the login came from, as limits key it (an IPv6 /64); it decides
    /// which waiting login a new one replaces (`nokkel_core::admission`).
    pub address: String,
}

const LOGIN_COLUMNS: &str = "id, request_id, pid, method, service, browser, os, place, number, \
     pending, state, created_at, expires_at, decided_at, device_id, uv, address";

impl LoginRecord {
    /// The values of [`LOGIN_COLUMNS`] in order, for the direct connection (`bind_login!`
    /// binds the same for sqlx).
    fn direct_args(&self) -> [&dyn ToSql; 17] {
        [
            &self.id,
            &self.request_id,
            &self.pid,
            &self.method,
            &self.service,
            &self.browser,
            &self.os,
            &self.place,
            &self.number,
            &self.pending,
            &self.state,
            &self.created_at,
            &self.expires_at,
            &self.decided_at,
            &self.device_id,
            &self.uv,
            &self.address,
        ]
    }
}

impl Store {
    /// Starts a login: cancels the pending logins `cancel` (those of the same person the
    /// admission rule replaces) and inserts `login`, in one transaction. Returns how many
    /// were cancelled (one already decided is left as it is).
    pub async fn start_login(
        &self,
        login: &LoginRecord,
        cancel: &[String],
    ) -> Result<u64, StoreError> {
        let cancel_one = "UPDATE logins SET state = 'cancelled', decided_at = $3 \
             WHERE id = $1 AND pid = $2 AND state = 'pending'";
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let mut cancelled = 0;
            for id in cancel {
                cancelled += sqlx::query(cancel_one)
                    .bind(id)
                    .bind(&login.pid)
                    .bind(login.created_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            insert_login!(&mut *tx, login)?;
            tx.commit().await?;
            Ok::<_, StoreError>(cancelled)
        }
        .await)
    }

    /// Writes a login as it is — how the in-memory pending-login store records an
    /// outcome (cancelled, expired, denied, …) the moment it is known. Pending logins
    /// never reach the table on that path.
    pub async fn record_login(&self, login: &LoginRecord) -> Result<(), StoreError> {
        with_pool!(self, pool => async {
            let mut conn = pool.acquire().await?;
            Ok(insert_login!(&mut *conn, login)?)
        }
        .await)
    }

    /// Decides login `id` by `transition` for `device_id` *and* raises that device's
    /// counter to `counter`, in one transaction: both happen or neither does.
    pub async fn decide_login_with_counter(
        &self,
        id: &str,
        transition: LoginTransition,
        decision: &DeviceDecision<'_>,
    ) -> Result<Decided, StoreError> {
        let decide = "UPDATE logins SET state = $3, decided_at = $4, device_id = $5, \
             uv = COALESCE($6, uv) \
             WHERE id = $1 AND state = $2 AND ($2 <> 'pending' OR expires_at > $4)";
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            if !advance_counter!(&mut *tx, decision)? {
                return Ok(Decided::CounterStale);
            }
            let affected = sqlx::query(decide)
                .bind(id)
                .bind(transition.from())
                .bind(transition.to())
                .bind(decision.now)
                .bind(decision.device_id)
                .bind(decision.uv)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if affected != 1 {
                return Ok(Decided::Taken);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(Decided::Yes)
        }
        .await)
    }

    /// Writes a login decided in memory (`login.state` is its outcome) *and* raises the
    /// deciding device's counter, in one transaction: both happen or neither does.
    pub async fn record_login_with_counter(
        &self,
        login: &LoginRecord,
        decision: &DeviceDecision<'_>,
    ) -> Result<Decided, StoreError> {
        if let Some(direct) = self.direct() {
            return direct
                .run(|c| {
                    let tx = super::direct::Immediate::begin(c)?;
                    let counter: [&dyn ToSql; 3] =
                        [&decision.device_id, &decision.counter, &decision.now];
                    if execute(&tx, ADVANCE_COUNTER_SQL, &counter)? != 1 {
                        return Ok(Decided::CounterStale);
                    }
                    execute(&tx, &insert_login_sql(), &login.direct_args())?;
                    tx.commit()?;
                    Ok(Decided::Yes)
                })
                .await;
        }
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            if !advance_counter!(&mut *tx, decision)? {
                return Ok(Decided::CounterStale);
            }
            insert_login!(&mut *tx, login)?;
            tx.commit().await?;
            Ok::<_, StoreError>(Decided::Yes)
        }
        .await)
    }

    /// The login with id `id`.
    pub async fn login(&self, id: &str) -> Result<Option<LoginRecord>, StoreError> {
        let sql = format!("SELECT {LOGIN_COLUMNS} FROM logins WHERE id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, LoginRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// The pending app logins of `pid` that have not expired at `now`, oldest first.
    pub async fn pending_app_logins(
        &self,
        pid: &str,
        now: i64,
    ) -> Result<Vec<LoginRecord>, StoreError> {
        let sql = format!(
            "SELECT {LOGIN_COLUMNS} FROM logins \
             WHERE pid = $1 AND state = 'pending' AND method = 'app' AND expires_at > $2 \
             ORDER BY created_at, id"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, LoginRecord>(&sql)
            .bind(pid)
            .bind(now)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Deletes decided logins started before `before` (unix seconds): the person's login
    /// history and the client addresses it keeps last as long as the audit log. Returns
    /// how many.
    pub async fn purge_logins(&self, before: i64) -> Result<u64, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query(
                "DELETE FROM logins WHERE created_at < $1 AND state <> 'pending'",
            )
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// The addresses `pid`'s approved logins since `since` came from
    /// (`nokkel_core::admission`: their waiting logins stay when logins crowd).
    pub async fn login_addresses(&self, pid: &str, since: i64) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT DISTINCT address FROM logins WHERE pid = $1 AND created_at > $2 \
             AND state IN ('approved', 'completed') AND address <> ''";
        Ok(
            with_pool!(self, pool => sqlx::query_scalar::<_, String>(sql)
            .bind(pid)
            .bind(since)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Moves a login by `transition` if, and only if, it is in the transition's `from`
    /// state (and, when leaving `pending`, not expired at `now`). One conditional `UPDATE`:
    /// of concurrent callers exactly one gets `true`.
    pub async fn decide_login(
        &self,
        id: &str,
        transition: LoginTransition,
        now: i64,
        device_id: Option<&str>,
        uv: Option<&str>,
    ) -> Result<bool, StoreError> {
        let sql = DECIDE_LOGIN_SQL;
        if let Some(direct) = self.direct() {
            let (from, to) = (transition.from(), transition.to());
            let changed = direct
                .run(|c| execute(c, sql, &[&id, &from, &to, &now, &device_id, &uv]))
                .await?;
            return Ok(changed == 1);
        }
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(transition.from())
            .bind(transition.to())
            .bind(now)
            .bind(device_id)
            .bind(uv)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// Marks login `id` expired if it is pending and its challenge expired by `now`.
    pub async fn expire_login(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE logins SET state = 'expired', decided_at = expires_at \
             WHERE id = $1 AND state = 'pending' AND expires_at <= $2";
        let affected = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// Marks pending logins whose challenge expired before `now` as expired.
    pub async fn expire_logins(&self, now: i64) -> Result<u64, StoreError> {
        let sql = "UPDATE logins SET state = 'expired', decided_at = expires_at \
             WHERE state = 'pending' AND expires_at <= $1";
        Ok(with_pool!(self, pool => sqlx::query(sql)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// How many logins are pending and not expired at `now`.
    pub async fn pending_login_count(&self, now: i64) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM logins WHERE state = 'pending' AND expires_at > $1";
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(now)
            .fetch_one(pool)
            .await)?)
    }

    /// The newest `limit` logins of `pid`, newest first.
    pub async fn logins_for(&self, pid: &str, limit: i64) -> Result<Vec<LoginRecord>, StoreError> {
        let sql = format!(
            "SELECT {LOGIN_COLUMNS} FROM logins WHERE pid = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, LoginRecord>(&sql)
            .bind(pid)
            .bind(limit)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Records a request proof's `(device_id, jti)` until `expires_at`; `false` if it was
    /// already recorded (a replay). Expired entries are swept on the way.
    pub async fn remember_proof(
        &self,
        device_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let insert = "INSERT INTO proof_replay (device_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id, jti) DO NOTHING";
        let inserted = with_pool!(self, pool => sqlx::query(insert)
            .bind(device_id)
            .bind(jti)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        // Sweeping is cheap with the index; doing it on a small fraction of calls keeps
        // the table at roughly one minute of traffic without a background job.
        if jti.as_bytes().first().is_some_and(|b| b % 64 == 0) {
            let sweep = "DELETE FROM proof_replay WHERE expires_at < $1";
            with_pool!(self, pool => sqlx::query(sweep).bind(now).execute(pool).await.map(|_| ()))?;
        }
        Ok(inserted == 1)
    }
}

/// How a device's answer decides a login: who, when, with which counter and method.
#[derive(Debug, Clone, Copy)]
pub struct DeviceDecision<'a> {
    /// The answering device.
    pub device_id: &'a str,
    /// The counter its statement carries; must exceed the stored one.
    pub counter: i64,
    /// When.
    pub now: i64,
    /// How the person was verified (approvals only).
    pub uv: Option<&'a str>,
}

/// Whether a device's answer decided a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// It did: the login's outcome and the device's counter are stored together.
    Yes,
    /// The device is revoked, or its counter is not above the stored one (a replayed or
    /// concurrent statement): nothing was written.
    CounterStale,
    /// The login was no longer in the state the answer needs: nothing was written.
    Taken,
}

/// `INSERT` of one whole login row, for [`insert_login!`].
fn insert_login_sql() -> String {
    format!(
        "INSERT INTO logins ({LOGIN_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    )
}

/// Moves login `$1` from state `$2` to `$3` at `$4` (a pending one only before it
/// expires), recording the deciding device `$5` and user verification `$6` if given.
pub(super) const DECIDE_LOGIN_SQL: &str = "UPDATE logins SET state = $3, decided_at = $4, \
     device_id = COALESCE($5, device_id), uv = COALESCE($6, uv) \
     WHERE id = $1 AND state = $2 AND ($2 <> 'pending' OR expires_at > $4)";

/// Raises a device's counter if it is greater than the stored one and the device is not
/// revoked; bound by [`advance_counter!`].
pub(super) const ADVANCE_COUNTER_SQL: &str = "UPDATE devices SET counter = $2, last_used_at = $3 \
     WHERE id = $1 AND counter < $2 AND revoked_at IS NULL";

/// Binds `$login`'s columns as `$1`…`$17` to `$query`.
macro_rules! bind_login {
    ($query:expr, $login:expr) => {{
        let login: &LoginRecord = $login;
        $query
            .bind(&login.id)
            .bind(&login.request_id)
            .bind(&login.pid)
            .bind(login.method)
            .bind(&login.service)
            .bind(&login.browser)
            .bind(&login.os)
            .bind(&login.place)
            .bind(login.number)
            .bind(&login.pending)
            .bind(login.state)
            .bind(login.created_at)
            .bind(login.expires_at)
            .bind(login.decided_at)
            .bind(&login.device_id)
            .bind(&login.uv)
            .bind(&login.address)
    }};
}
use bind_login;

/// Inserts `$login` on `$executor` (a pool connection or transaction of either driver).
macro_rules! insert_login {
    ($executor:expr, $login:expr) => {{
        bind_login!(sqlx::query(&insert_login_sql()), $login)
            .execute($executor)
            .await
            .map(|_| ())
    }};
}
use insert_login;

/// Advances the counter of `$decision`'s device on `$executor`; `Ok(true)` when it moved.
macro_rules! advance_counter {
    ($executor:expr, $decision:expr) => {{
        let decision: &DeviceDecision<'_> = $decision;
        sqlx::query(ADVANCE_COUNTER_SQL)
            .bind(decision.device_id)
            .bind(decision.counter)
            .bind(decision.now)
            .execute($executor)
            .await
            .map(|r| r.rows_affected() == 1)
    }};
}
use advance_counter;
