//! Where logins wait for their answer, with the short-lived state around them: the
//! request-proof replay cache and the rate-limit windows.
//!
//! Two implementations behind one trait, chosen by the backend (see
//! docs/ARCHITECTURE.md, "What a crash loses"):
//!
//! - [`SqlPendingLogins`] (PostgreSQL, several instances): everything in the shared
//!   tables, so any instance can answer any request; wake-ups cross instances through
//!   `LISTEN`/`NOTIFY`.
//! - [`MemoryPendingLogins`] (embedded SQLite, one instance): pending logins, their
//!   challenges, the replay cache and the rate-limit windows live in memory; only
//!   outcomes are written. An approval and its device counter are one transaction, so
//!   nothing approved is lost; a crash loses only logins still waiting (the browser
//!   is told they expired), replay entries and rate-limit counts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use nokkel_core::admission::{replaced_by, Waiting, MAX_WAITING_PER_PERSON};

use crate::store::{
    Decided, DeviceDecision, LoginRecord, LoginState, LoginTransition, RateCount, Store, StoreError,
};

/// How long an address the person logged in from counts as theirs when logins crowd
/// (`nokkel_core::admission`).
const KNOWN_ADDRESS_SECONDS: i64 = 365 * 86_400;

/// The ids of the person's `waiting` logins (oldest first) that `login` replaces;
/// `known` is where the person logged in from before, asked only when it matters.
fn replaced(
    waiting: &[LoginRecord],
    login: &LoginRecord,
    replaces: Option<&str>,
    known: &[String],
) -> Vec<String> {
    let waiting: Vec<Waiting<'_>> = waiting
        .iter()
        .map(|l| Waiting {
            id: &l.id,
            address: &l.address,
            known_address: known.contains(&l.address),
            created_at: l.created_at,
        })
        .collect();
    replaced_by(&waiting, &login.address, replaces)
}

/// The addresses `login`'s person logged in from before, when `waiting` logins are enough
/// for them to matter; none otherwise (saving the query on nearly every login).
async fn known_addresses(
    store: &Store,
    login: &LoginRecord,
    waiting: usize,
) -> Result<Vec<String>, StoreError> {
    if waiting < MAX_WAITING_PER_PERSON {
        return Ok(Vec::new());
    }
    store
        .login_addresses(&login.pid, login.created_at - KNOWN_ADDRESS_SECONDS)
        .await
}

/// Pending logins and the short-lived state around them.
#[async_trait]
pub trait PendingLogins: Send + Sync {
    /// Stores a new pending login, cancelling the person's waiting logins it replaces by
    /// `nokkel_core::admission` (`replaces`: the one its browser started before). Returns
    /// how many were cancelled.
    async fn start(&self, login: &LoginRecord, replaces: Option<&str>) -> Result<u64, StoreError>;

    /// Login `id`, pending or decided.
    async fn get(&self, id: &str) -> Result<Option<LoginRecord>, StoreError>;

    /// The person's pending app logins that have not expired at `now`, oldest first.
    async fn pending_app_logins(&self, pid: &str, now: i64)
        -> Result<Vec<LoginRecord>, StoreError>;

    /// Moves pending login `id` along `transition` before it expires. `false` when it was
    /// not pending. (An approved login is completed with its code:
    /// `oidc::complete_approved_login`, then [`PendingLogins::completed`].)
    async fn decide(
        &self,
        id: &str,
        transition: LoginTransition,
        now: i64,
        device_id: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Login `id` was completed in the store (it became the relying party's code): forget
    /// what is kept of it beside the store.
    fn completed(&self, id: &str);

    /// Decides pending login `id` by a device's answer and raises that device's counter,
    /// both or neither.
    async fn decide_by_device(
        &self,
        id: &str,
        transition: LoginTransition,
        decision: &DeviceDecision<'_>,
    ) -> Result<Decided, StoreError>;

    /// Records login `id` as expired if it is pending and past its expiry at `now`.
    async fn expire(&self, id: &str, now: i64) -> Result<bool, StoreError>;

    /// Records every pending login past its expiry as expired and forgets what is no
    /// longer needed (stale replay entries and rate-limit windows). Returns how many
    /// logins expired.
    async fn sweep(&self, now: i64) -> Result<u64, StoreError>;

    /// How many logins are pending and unexpired at `now`.
    async fn pending_count(&self, now: i64) -> Result<i64, StoreError>;

    /// Remembers request proof `jti` of `device_id` until `expires_at`; `false` when it
    /// was seen before.
    async fn remember_proof(
        &self,
        device_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Counts a hit against the fixed window starting at `window_start` for `key`.
    async fn hit(&self, key: &str, window_start: i64, limit: i64) -> Result<RateCount, StoreError>;
}

/// Everything in the shared tables (PostgreSQL; any backend works).
pub struct SqlPendingLogins {
    store: Store,
}

impl SqlPendingLogins {
    /// Pending logins kept in `store`'s tables.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[async_trait]
impl PendingLogins for SqlPendingLogins {
    async fn start(&self, login: &LoginRecord, replaces: Option<&str>) -> Result<u64, StoreError> {
        // Two logins of one person starting at the same instant may both stay; the limit
        // is against crowding, and one over it for a moment does no harm.
        let waiting = self
            .store
            .pending_app_logins(&login.pid, login.created_at)
            .await?;
        let known = known_addresses(&self.store, login, waiting.len()).await?;
        let cancel = replaced(&waiting, login, replaces, &known);
        self.store.start_login(login, &cancel).await
    }

    async fn get(&self, id: &str) -> Result<Option<LoginRecord>, StoreError> {
        self.store.login(id).await
    }

    async fn pending_app_logins(
        &self,
        pid: &str,
        now: i64,
    ) -> Result<Vec<LoginRecord>, StoreError> {
        self.store.pending_app_logins(pid, now).await
    }

    async fn decide(
        &self,
        id: &str,
        transition: LoginTransition,
        now: i64,
        device_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.store
            .decide_login(id, transition, now, device_id, None)
            .await
    }

    fn completed(&self, _id: &str) {
        // Nothing beside the tables.
    }

    async fn decide_by_device(
        &self,
        id: &str,
        transition: LoginTransition,
        decision: &DeviceDecision<'_>,
    ) -> Result<Decided, StoreError> {
        self.store
            .decide_login_with_counter(id, transition, decision)
            .await
    }

    async fn expire(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        self.store.expire_login(id, now).await
    }

    async fn sweep(&self, now: i64) -> Result<u64, StoreError> {
        self.store.expire_logins(now).await
    }

    async fn pending_count(&self, now: i64) -> Result<i64, StoreError> {
        self.store.pending_login_count(now).await
    }

    async fn remember_proof(
        &self,
        device_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.store
            .remember_proof(device_id, jti, expires_at, now)
            .await
    }

    async fn hit(&self, key: &str, window_start: i64, limit: i64) -> Result<RateCount, StoreError> {
        self.store.hit(key, window_start, limit).await
    }
}

/// How long an approved login stays in memory for its browser to collect the code.
/// After that the outcome row in the store answers.
const KEEP_APPROVED_SECONDS: i64 = 600;

/// Rate-limit windows older than this are forgotten: volatile limits use windows of at
/// most an hour (the login brake's is 10 minutes).
const KEEP_WINDOWS_SECONDS: i64 = 3_600;

fn lock(state: &Mutex<MemoryState>) -> MutexGuard<'_, MemoryState> {
    // A panic while holding the lock leaves maps that are still consistent enough (each
    // change is a few inserts and removes); keep serving.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Pending logins in memory, outcomes in the store (embedded SQLite, one instance).
pub struct MemoryPendingLogins {
    store: Store,
    /// Shared with the tasks that store decisions (see [`MemoryPendingLogins::store_claimed`]).
    state: Arc<Mutex<MemoryState>>,
}

#[derive(Default)]
struct MemoryState {
    /// Pending logins, and approved ones until their browser completes them. An
    /// approved login is also in the store.
    logins: HashMap<String, LoginRecord>,
    /// Person → their pending logins' ids (a few; `nokkel_core::admission`).
    pending_of: HashMap<String, Vec<String>>,
    /// (device, jti) → until when the proof is remembered.
    proofs: HashMap<(String, String), i64>,
    /// (key, window start) → hits.
    windows: HashMap<(String, i64), i64>,
    /// Logins whose decision is being stored.
    claimed: HashSet<String>,
}

impl MemoryState {
    /// Takes pending login `id` out of the pending index (it stays in `logins`).
    fn unindex(&mut self, login: &LoginRecord) {
        if let Some(ids) = self.pending_of.get_mut(&login.pid) {
            ids.retain(|id| *id != login.id);
            if ids.is_empty() {
                self.pending_of.remove(&login.pid);
            }
        }
    }

    /// `pid`'s pending logins unexpired at `now`, oldest first.
    fn waiting(&self, pid: &str, now: i64) -> Vec<&LoginRecord> {
        let mut waiting: Vec<&LoginRecord> = self
            .pending_of
            .get(pid)
            .into_iter()
            .flatten()
            .filter_map(|id| self.logins.get(id))
            .filter(|l| l.state == LoginState::Pending && l.expires_at > now)
            .collect();
        // Stable: logins of the same second stay in the order they started.
        waiting.sort_by_key(|l| l.created_at);
        waiting
    }

    /// Claims pending login `id` for a decision if it is pending, not already claimed,
    /// and `unexpired` (or, for recording its expiry, expired) at `now`; returns it. While
    /// claimed it still reads as pending — nobody sees a decision before it is stored —
    /// and no other decision can claim it.
    fn claim(&mut self, id: &str, now: i64, unexpired: bool) -> Option<LoginRecord> {
        let login = self.logins.get(id)?;
        if login.state != LoginState::Pending
            || (login.expires_at > now) != unexpired
            || self.claimed.contains(id)
        {
            return None;
        }
        let login = login.clone();
        self.claimed.insert(id.to_owned());
        Some(login)
    }

    /// The claimed login's decision is stored: it leaves the pending logins (an approved
    /// one stays until its browser completes it).
    fn settle(&mut self, decided: LoginRecord) {
        self.claimed.remove(&decided.id);
        self.unindex(&decided);
        if decided.state == LoginState::Approved {
            self.logins.insert(decided.id.clone(), decided);
        } else {
            self.logins.remove(&decided.id);
        }
    }

    /// The claimed login's decision could not be stored: it waits on as before.
    fn release(&mut self, id: &str) {
        self.claimed.remove(id);
    }
}

impl MemoryPendingLogins {
    /// Pending logins in memory, their outcomes written to `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            state: Arc::new(Mutex::new(MemoryState::default())),
        }
    }

    fn state(&self) -> MutexGuard<'_, MemoryState> {
        lock(&self.state)
    }

    /// Stores the decision of a claimed login with `write`, then settles the claim (when
    /// `stored` says the write took effect) or releases it. The write runs as its own task,
    /// so a request dropped midway (a client gone) cannot leave the login claimed forever
    /// or its memory out of step with the store.
    async fn store_claimed<T, W>(
        &self,
        decided: LoginRecord,
        write: W,
        stored: fn(&T) -> bool,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let state = self.state.clone();
        tokio::spawn(async move {
            let result = write.await;
            let mut state = lock(&state);
            match &result {
                Ok(outcome) if stored(outcome) => state.settle(decided),
                _ => state.release(&decided.id),
            }
            result
        })
        .await
        .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
    }

    /// The login as decided in memory: `before` moved to `to`.
    fn decided(
        before: &LoginRecord,
        to: LoginState,
        at: i64,
        device_id: Option<&str>,
        uv: Option<&str>,
    ) -> LoginRecord {
        LoginRecord {
            state: to,
            decided_at: Some(at),
            device_id: device_id.map(str::to_owned).or(before.device_id.clone()),
            uv: uv.map(str::to_owned).or(before.uv.clone()),
            ..before.clone()
        }
    }
}

#[async_trait]
impl PendingLogins for MemoryPendingLogins {
    async fn start(&self, login: &LoginRecord, replaces: Option<&str>) -> Result<u64, StoreError> {
        let crowded = self.state().waiting(&login.pid, login.created_at).len();
        let known = known_addresses(&self.store, login, crowded).await?;
        let replaced: Vec<LoginRecord> = {
            let mut state = self.state();
            // A login whose answer is being stored is decided by that answer: it is neither
            // replaced nor counted.
            let waiting: Vec<LoginRecord> = state
                .waiting(&login.pid, login.created_at)
                .into_iter()
                .filter(|l| !state.claimed.contains(&l.id))
                .cloned()
                .collect();
            let cancel = replaced(&waiting, login, replaces, &known);
            let replaced = cancel
                .iter()
                .filter_map(|id| state.logins.remove(id))
                .collect::<Vec<_>>();
            for old in &replaced {
                state.unindex(old);
            }
            state
                .pending_of
                .entry(login.pid.clone())
                .or_default()
                .push(login.id.clone());
            state.logins.insert(login.id.clone(), login.clone());
            replaced
        };
        for old in &replaced {
            let cancelled = Self::decided(old, LoginState::Cancelled, login.created_at, None, None);
            self.store.record_login(&cancelled).await?;
        }
        Ok(replaced.len() as u64)
    }

    async fn get(&self, id: &str) -> Result<Option<LoginRecord>, StoreError> {
        if let Some(login) = self.state().logins.get(id).cloned() {
            return Ok(Some(login));
        }
        self.store.login(id).await
    }

    async fn pending_app_logins(
        &self,
        pid: &str,
        now: i64,
    ) -> Result<Vec<LoginRecord>, StoreError> {
        let state = self.state();
        Ok(state
            .waiting(pid, now)
            .into_iter()
            .filter(|l| l.method == crate::store::LoginMethod::App)
            .cloned()
            .collect())
    }

    async fn decide(
        &self,
        id: &str,
        transition: LoginTransition,
        now: i64,
        device_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        if transition.from() != LoginState::Pending {
            return Ok(false);
        }
        let Some(before) = self.state().claim(id, now, true) else {
            return Ok(false);
        };
        let decided = Self::decided(&before, transition.to(), now, device_id, None);
        let (store, row) = (self.store.clone(), decided.clone());
        let write = async move { store.record_login(&row).await };
        self.store_claimed(decided, write, |_| true).await?;
        Ok(true)
    }

    fn completed(&self, id: &str) {
        // Approved logins stay here for their waiters until the code is issued.
        self.state().logins.remove(id);
    }

    async fn decide_by_device(
        &self,
        id: &str,
        transition: LoginTransition,
        decision: &DeviceDecision<'_>,
    ) -> Result<Decided, StoreError> {
        let Some(before) = self.state().claim(id, decision.now, true) else {
            return Ok(Decided::Taken);
        };
        let decided = Self::decided(
            &before,
            transition.to(),
            decision.now,
            Some(decision.device_id),
            decision.uv,
        );
        // Nothing is written unless the counter moves; then the login waits on as before.
        let (store, row) = (self.store.clone(), decided.clone());
        let (device_id, uv) = (
            decision.device_id.to_owned(),
            decision.uv.map(str::to_owned),
        );
        let (counter, now) = (decision.counter, decision.now);
        let write = async move {
            let decision = DeviceDecision {
                device_id: &device_id,
                counter,
                now,
                uv: uv.as_deref(),
            };
            store.record_login_with_counter(&row, &decision).await
        };
        self.store_claimed(decided, write, |outcome| *outcome == Decided::Yes)
            .await
    }

    async fn expire(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let Some(before) = self.state().claim(id, now, false) else {
            return Ok(false);
        };
        let expired = Self::decided(&before, LoginState::Expired, before.expires_at, None, None);
        let (store, row) = (self.store.clone(), expired.clone());
        let write = async move { store.record_login(&row).await };
        self.store_claimed(expired, write, |_| true).await?;
        Ok(true)
    }

    async fn sweep(&self, now: i64) -> Result<u64, StoreError> {
        let expired: Vec<String> = {
            let mut state = self.state();
            state.proofs.retain(|_, until| *until >= now);
            state
                .windows
                .retain(|(_, start), _| *start > now - KEEP_WINDOWS_SECONDS);
            state.logins.retain(|_, l| {
                l.state != LoginState::Approved || l.expires_at + KEEP_APPROVED_SECONDS > now
            });
            state
                .logins
                .values()
                .filter(|l| l.state == LoginState::Pending && l.expires_at <= now)
                .map(|l| l.id.clone())
                .collect()
        };
        // Rows a table-backed server left pending (before an upgrade) expire as before.
        let mut n = self.store.expire_logins(now).await?;
        for id in expired {
            if self.expire(&id, now).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn pending_count(&self, now: i64) -> Result<i64, StoreError> {
        let state = self.state();
        let n = state
            .logins
            .values()
            .filter(|l| l.state == LoginState::Pending && l.expires_at > now)
            .count();
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    async fn remember_proof(
        &self,
        device_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let key = (device_id.to_owned(), jti.to_owned());
        match state.proofs.get(&key) {
            Some(until) if *until >= now => Ok(false),
            _ => {
                state.proofs.insert(key, expires_at);
                Ok(true)
            }
        }
    }

    async fn hit(&self, key: &str, window_start: i64, limit: i64) -> Result<RateCount, StoreError> {
        let mut state = self.state();
        let hits = state
            .windows
            .entry((key.to_owned(), window_start))
            .or_insert(0);
        *hits += 1;
        let count = *hits;
        Ok(RateCount {
            count,
            allowed: count <= limit,
        })
    }
}
