//! The authenticator flows: enrol with an activation letter, then (unlocked) fetch the
//! pending login request, approve or deny it, list history and devices, deactivate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nokkel_core::clock::{Clock, SystemClock};
use nokkel_core::keys::{DeviceId, DeviceKey, PublicKey};
use nokkel_core::push::{PushKind, PushRegistration};
use nokkel_core::random::{OsRandom, Random, RandomRng};
use nokkel_core::statements::{
    new_jti, sign_action, sign_enrolment, sign_request_proof, sign_transfer,
    verify_login_challenge, Action, DeviceDescription, Platform, RequestTarget, StatementError,
    TransferOffer, UserVerification, VerifiedChallenge,
};
use nokkel_core::transfer_code::TransferCode;
use nokkel_core::wire::{
    ApproveRequest, ChallengeOutcome, ChallengeOutcomeResponse, ContactDetails, DenyRequest,
    DeviceListResponse, DeviceSummary, FinishEnrolmentRequest, FinishEnrolmentResponse,
    HistoryEntry, HistoryResponse, PendingChallengeResponse, ProtocolVersion, Redacted,
    RevokeDeviceResponse, StartEnrolmentRequest, StartEnrolmentResponse, UpdateContactRequest,
    API_PREFIX,
};
use nokkel_core::wire::{
    ApproveTransferRequest, LookupTransferRequest, StartTransferRequest, StartTransferResponse,
    TransferDeviceRequest, TransferOfferResponse, TransferStatus, TransferStatusResponse,
};
use nokkel_core::wire::{PushStatusResponse, SetPushRequest};
use reqwest::Method;
use serde::Serialize;

use crate::api::{ApiClient, HttpOptions};
use crate::error::ClientError;
use crate::state::{DeviceState, StateFile, STATE_VERSION};
use crate::vault::KeyVault;
use crate::verify::UserVerifier;

/// Longest long-poll the server honours per request (PROTOCOL.md: `wait` 0–30).
const MAX_WAIT_PER_REQUEST: Duration = Duration::from_secs(30);

/// A device's local home: state directory, key vault, clock and randomness. Cheap to
/// clone the parts it holds; make one per app start.
#[derive(Clone)]
pub struct Authenticator {
    dir: PathBuf,
    state: StateFile,
    vault: Arc<dyn KeyVault>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    http: HttpOptions,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What the user types to enrol. The activation code is a secret: never in `Debug`.
pub struct EnrolmentForm<'a> {
    /// The server's base URL, e.g. `https://id.nokkel.no` (or `http://10.0.2.2:8080`).
    pub server: &'a str,
    /// National identity number or D-number.
    pub pid: &'a str,
    /// The activation code from the letter, as typed.
    pub activation_code: &'a str,
    /// A name for this device (1–64 characters), shown in device lists.
    pub name: &'a str,
    /// The platform this device runs on.
    pub platform: Platform,
}

impl std::fmt::Debug for EnrolmentForm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolmentForm")
            .field("server", &self.server)
            .field("pid", &self.pid)
            .field("activation_code", &"<redacted>")
            .field("name", &self.name)
            .field("platform", &self.platform)
            .finish()
    }
}

/// The result of a successful enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enrolled {
    /// The new device id.
    pub device_id: DeviceId,
    /// The server's issuer.
    pub issuer: String,
    /// The device name.
    pub name: String,
    /// The pinned challenge key's id (thumbprint).
    pub challenge_key_id: String,
}

/// The local view of the enrolled device (no server call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceStatus {
    /// Where requests go.
    pub server_url: String,
    /// The server's issuer.
    pub issuer: String,
    /// This device's id.
    pub device_id: DeviceId,
    /// Its name.
    pub name: String,
    /// Its platform.
    pub platform: Platform,
    /// The verification methods it enrolled with.
    pub uv_methods: Vec<UserVerification>,
    /// The last signature counter used.
    pub counter: u64,
    /// Enrolled at, Unix seconds.
    pub enrolled_at: i64,
    /// The pinned challenge key's id.
    pub challenge_key_id: String,
}

fn status_of(state: &DeviceState) -> DeviceStatus {
    DeviceStatus {
        server_url: state.server_url.clone(),
        issuer: state.issuer.clone(),
        device_id: state.device_id.clone(),
        name: state.name.clone(),
        platform: state.platform,
        uv_methods: state.uv_methods.clone(),
        counter: state.counter,
        enrolled_at: state.enrolled_at,
        challenge_key_id: PublicKey::from_jwk(&state.challenge_key)
            .map(|k| k.thumbprint())
            .unwrap_or_default(),
    }
}

impl Authenticator {
    /// A device home in `state_dir` with its key in `vault`; system clock, OS randomness,
    /// default HTTP options.
    pub fn new(state_dir: impl Into<PathBuf>, vault: Arc<dyn KeyVault>) -> Self {
        let dir = state_dir.into();
        Self {
            state: StateFile::in_dir(&dir),
            dir,
            vault,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            http: HttpOptions::default(),
        }
    }

    /// Uses `clock` for statement times.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `random` for keys and proof ids.
    pub fn with_random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// Uses these timeouts and retry policy.
    pub fn with_http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// The enrolled device's local state, or None when nothing is enrolled here.
    pub fn status(&self) -> Result<Option<DeviceStatus>, ClientError> {
        Ok(self.state.load()?.as_ref().map(status_of))
    }

    /// Enrols a new device: checks the activation code with the server, generates the
    /// device key, signs the enrolment statement over the server's nonce, and pins the
    /// server's challenge key (after checking `challenge_key_id` is its thumbprint). The
    /// key is stored protected by `verifier` before the server is asked to finish, so a
    /// crash after the server said yes never loses it.
    pub async fn enrol(
        &self,
        form: &EnrolmentForm<'_>,
        verifier: &dyn UserVerifier,
    ) -> Result<Enrolled, ClientError> {
        if self.state.load()?.is_some() {
            return Err(ClientError::AlreadyEnrolled);
        }
        let api = ApiClient::new(form.server, self.http.clone())?;
        let started: StartEnrolmentResponse = api
            .post(
                &format!("{API_PREFIX}/enrolments"),
                &StartEnrolmentRequest {
                    v: ProtocolVersion,
                    pid: form.pid.to_owned(),
                    activation_code: Redacted::new(form.activation_code),
                },
                None,
            )
            .await?;
        let pinned = PublicKey::from_jwk(&started.challenge_key)
            .map_err(|_| ClientError::EnrolmentMismatch("challenge_key is not a P-256 key"))?;
        if pinned.thumbprint() != started.challenge_key_id {
            return Err(ClientError::EnrolmentMismatch(
                "challenge_key_id is not the thumbprint of challenge_key",
            ));
        }

        let key = DeviceKey::generate(&mut RandomRng::new(self.random.as_ref()));
        let uv_methods = vec![verifier.method()];
        let statement = sign_enrolment(
            &key,
            &started.issuer,
            &started.nonce,
            &DeviceDescription {
                name: form.name.to_owned(),
                platform: form.platform,
                uv_methods: uv_methods.clone(),
            },
            self.clock.unix(),
        )
        .map_err(ClientError::Statement)?;
        let state = DeviceState {
            v: STATE_VERSION,
            server_url: api.server().to_owned(),
            issuer: started.issuer.clone(),
            device_id: key.device_id(),
            name: form.name.to_owned(),
            platform: form.platform,
            uv_methods,
            challenge_key: started.challenge_key.clone(),
            counter: 0,
            enrolled_at: self.clock.unix(),
        };
        self.vault.store(&verifier.protect(&key)?)?;
        if let Err(e) = self.state.save(&state) {
            let _ = self.vault.delete();
            return Err(e);
        }

        let finished: Result<FinishEnrolmentResponse, ClientError> = api
            .post(
                &format!(
                    "{API_PREFIX}/enrolments/{}/finish",
                    path_segment(&started.enrolment_id)?
                ),
                &FinishEnrolmentRequest {
                    v: ProtocolVersion,
                    statement,
                },
                None,
            )
            .await;
        let outcome = match finished {
            Ok(done) if done.device_id == key.device_id() => Ok(()),
            Ok(_) => Err(ClientError::EnrolmentMismatch(
                "the server registered another device id than this key's",
            )),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            let _ = self.state.delete();
            let _ = self.vault.delete();
            return Err(e);
        }
        tracing::info!(device_id = %state.device_id, issuer = %state.issuer, "device enrolled");
        Ok(Enrolled {
            device_id: state.device_id,
            issuer: state.issuer,
            name: state.name,
            challenge_key_id: started.challenge_key_id,
        })
    }

    /// New phone: starts a move from an old phone. Checks and pins the server's challenge
    /// key, generates this device's key (stored protected by `verifier`), proves
    /// possession of it over the transfer nonce, and returns the code to show. Nothing is
    /// enrolled here until [`Authenticator::wait_for_transfer`] sees the old phone's
    /// approval.
    pub async fn start_transfer(
        &self,
        server: &str,
        name: &str,
        platform: Platform,
        verifier: &dyn UserVerifier,
    ) -> Result<TransferStarted, ClientError> {
        if self.state.load()?.is_some() {
            return Err(ClientError::AlreadyEnrolled);
        }
        let api = ApiClient::new(server, self.http.clone())?;
        let started: StartTransferResponse = api
            .post(
                &format!("{API_PREFIX}/transfers"),
                &StartTransferRequest { v: ProtocolVersion },
                None,
            )
            .await?;
        let pinned = PublicKey::from_jwk(&started.challenge_key)
            .map_err(|_| ClientError::EnrolmentMismatch("challenge_key is not a P-256 key"))?;
        if pinned.thumbprint() != started.challenge_key_id {
            return Err(ClientError::EnrolmentMismatch(
                "challenge_key_id is not the thumbprint of challenge_key",
            ));
        }
        let code = TransferCode::parse(started.code.expose()).map_err(|_| {
            ClientError::EnrolmentMismatch("the server's transfer code is not a transfer code")
        })?;
        let key = DeviceKey::generate(&mut RandomRng::new(self.random.as_ref()));
        let uv_methods = vec![verifier.method()];
        let statement = sign_enrolment(
            &key,
            &started.issuer,
            &started.nonce,
            &DeviceDescription {
                name: name.to_owned(),
                platform,
                uv_methods: uv_methods.clone(),
            },
            self.clock.unix(),
        )
        .map_err(ClientError::Statement)?;
        self.vault.store(&verifier.protect(&key)?)?;
        let transfer_id = path_segment(&started.transfer_id)?.to_owned();
        let proved: Result<TransferStatusResponse, ClientError> = api
            .post(
                &format!("{API_PREFIX}/transfers/{transfer_id}/device"),
                &TransferDeviceRequest {
                    v: ProtocolVersion,
                    statement,
                },
                None,
            )
            .await;
        if let Err(e) = proved {
            let _ = self.vault.delete();
            return Err(e);
        }
        Ok(TransferStarted {
            transfer_id,
            code,
            expires_at: started.expires_at,
            challenge_key_id: started.challenge_key_id,
            state: DeviceState {
                v: STATE_VERSION,
                server_url: api.server().to_owned(),
                issuer: started.issuer,
                device_id: key.device_id(),
                name: name.to_owned(),
                platform,
                uv_methods,
                challenge_key: started.challenge_key,
                counter: 0,
                enrolled_at: self.clock.unix(),
            },
            api,
        })
    }

    /// New phone: waits up to `wait` (in rounds of at most 30 s) for the old phone to
    /// decide. On approval this device is enrolled (its state saved); on refusal or
    /// expiry its key is deleted; otherwise it is still waiting.
    pub async fn wait_for_transfer(
        &self,
        started: &TransferStarted,
        wait: Duration,
    ) -> Result<TransferOutcome, ClientError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let round = left.min(MAX_WAIT_PER_REQUEST);
            let answer: TransferStatusResponse = started
                .api
                .get(
                    &format!("{API_PREFIX}/transfers/{}", started.transfer_id),
                    &format!("?wait={}", round.as_secs()),
                    None,
                    round,
                )
                .await?;
            match answer.status {
                TransferStatus::Approved => {
                    if answer.device_id.as_ref() != Some(&started.state.device_id) {
                        return Err(ClientError::EnrolmentMismatch(
                            "the server enrolled another device id than this key's",
                        ));
                    }
                    self.state.save(&started.state)?;
                    tracing::info!(device_id = %started.state.device_id, "device enrolled by transfer");
                    return Ok(TransferOutcome::Approved(Enrolled {
                        device_id: started.state.device_id.clone(),
                        issuer: started.state.issuer.clone(),
                        name: started.state.name.clone(),
                        challenge_key_id: started.challenge_key_id.clone(),
                    }));
                }
                TransferStatus::Refused | TransferStatus::Expired => {
                    let _ = self.vault.delete();
                    return Ok(if answer.status == TransferStatus::Refused {
                        TransferOutcome::Refused
                    } else {
                        TransferOutcome::Expired
                    });
                }
                TransferStatus::Started | TransferStatus::Waiting => {}
            }
            if round.as_secs() == 0 || tokio::time::Instant::now() >= deadline {
                return Ok(TransferOutcome::Waiting);
            }
        }
    }

    /// Opens the enrolled device: `verifier` proves the user's presence and unwraps the key.
    /// The key then stays in memory (zeroized on drop) to sign the request proofs every
    /// API call needs; approvals ask the verifier again.
    pub fn unlock(&self, verifier: &dyn UserVerifier) -> Result<Device, ClientError> {
        let state = self.state.load()?.ok_or(ClientError::NotEnrolled)?;
        let key = verifier
            .unlock(self.vault.as_ref(), "Open Nøkkel")?
            .into_key();
        if key.device_id() != state.device_id {
            return Err(ClientError::State(
                "the key in the vault does not belong to the enrolled device".into(),
            ));
        }
        let pinned = PublicKey::from_jwk(&state.challenge_key)
            .map_err(|e| ClientError::State(format!("pinned challenge key unreadable: {e}")))?;
        Ok(Device {
            api: ApiClient::new(&state.server_url, self.http.clone())?,
            key,
            pinned,
            state,
            home: self.clone(),
        })
    }

    /// Deletes the device from this machine only (key and state), without telling the
    /// server: for a device already revoked elsewhere or a server that is gone.
    pub fn forget(&self) -> Result<(), ClientError> {
        self.vault.delete()?;
        self.state.delete()
    }

    /// Starts over on this device when its key can no longer be used (a new fingerprint or
    /// a removed screen lock invalidated the platform key that protects it), without
    /// telling the server, which cannot be asked without that key. The state goes first:
    /// once it is gone the app offers a new activation whatever the key store does. A key
    /// that cannot be deleted now is replaced by the next enrolment, so its failure is
    /// logged, not returned: the person must never be stuck here.
    pub fn reset_here(&self) -> Result<(), ClientError> {
        self.state.delete()?;
        if let Err(error) = self.vault.delete() {
            tracing::warn!(code = error.code(), "old device key not deleted: {error}");
        }
        Ok(())
    }
}

/// `GET /api/v1/account` and `POST /api/v1/account/resume` answer.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountAnswer {
    #[allow(dead_code)]
    v: ProtocolVersion,
    app_login_blocked: bool,
}

/// The (ignored) body of `POST /api/v1/account/resume`.
#[derive(Serialize)]
struct AccountAnswerRequest {
    v: ProtocolVersion,
}

/// A transfer this (new) phone started: the code to show, and what it will save once the
/// old phone approves.
pub struct TransferStarted {
    api: ApiClient,
    transfer_id: String,
    code: TransferCode,
    expires_at: i64,
    challenge_key_id: String,
    state: DeviceState,
}

impl std::fmt::Debug for TransferStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferStarted")
            .field("transfer_id", &self.transfer_id)
            .field("device_id", &self.state.device_id)
            .finish_non_exhaustive()
    }
}

impl TransferStarted {
    /// The code to show, grouped (`7KQ-M3X-A9D`); also the QR payload.
    pub fn code(&self) -> String {
        self.code.grouped()
    }
    /// Until when the old phone can approve, Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
    /// The new device's id.
    pub fn device_id(&self) -> &DeviceId {
        &self.state.device_id
    }
}

/// How a transfer ended, seen from the new phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TransferOutcome {
    /// Still waiting for the old phone.
    Waiting,
    /// Approved: this device is enrolled.
    Approved(Enrolled),
    /// The old phone refused; the key is deleted.
    Refused,
    /// Nobody decided in time; the key is deleted.
    Expired,
}

/// What the old phone is asked to approve, as the server showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferRequest {
    /// The transfer.
    pub transfer_id: String,
    /// The new device's id.
    pub new_device_id: DeviceId,
    /// The name the new phone gave itself.
    pub device_name: String,
    /// Its platform.
    pub platform: Platform,
    /// When the new phone started, Unix seconds.
    pub started_at: i64,
    /// Until when it can be approved, Unix seconds.
    pub expires_at: i64,
    #[serde(skip)]
    offer: TransferOffer,
}

/// A login request for this device, verified against the pinned server key.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    challenge: VerifiedChallenge,
}

/// What the app shows about a [`PendingRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestDetails {
    /// The login transaction's id.
    pub challenge_id: String,
    /// The relying party ("Skatteetaten").
    pub service: String,
    /// When the login started, Unix seconds.
    pub requested_at: i64,
    /// When the request expires, Unix seconds.
    pub expires_at: i64,
    /// Browser of the login.
    pub browser: String,
    /// Operating system of the login.
    pub os: String,
    /// Approximate place, when known.
    pub place: Option<String>,
    /// The three numbers to offer, in display order.
    pub choices: [u8; 3],
}

impl PendingRequest {
    /// The details to show.
    pub fn details(&self) -> RequestDetails {
        let p = self.challenge.payload();
        RequestDetails {
            challenge_id: p.challenge_id.clone(),
            service: p.service.clone(),
            requested_at: p.iat,
            expires_at: p.exp,
            browser: p.browser.clone(),
            os: p.os.clone(),
            place: p.place.clone(),
            choices: p.choices,
        }
    }

    /// The three numbers to offer.
    pub fn choices(&self) -> [u8; 3] {
        self.challenge.choices()
    }

    /// The login transaction's id.
    pub fn challenge_id(&self) -> &str {
        self.challenge.challenge_id()
    }
}

/// An enrolled, unlocked device.
pub struct Device {
    api: ApiClient,
    key: DeviceKey,
    pinned: PublicKey,
    state: DeviceState,
    home: Authenticator,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("device_id", &self.state.device_id)
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

/// Path segments we build URLs from are opaque server values; accept only characters that
/// need no escaping, so the request proof's `htu` is exactly the path the server sees.
fn path_segment(value: &str) -> Result<&str, ClientError> {
    let ok = !value.is_empty()
        && value.len() <= 2048
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if ok {
        Ok(value)
    } else {
        Err(ClientError::BadResponse {
            status: 200,
            detail: "an id from the server cannot be used in a URL path".into(),
        })
    }
}

impl Device {
    /// The device's local state.
    pub fn status(&self) -> DeviceStatus {
        status_of(&self.state)
    }

    /// This device's id.
    pub fn device_id(&self) -> &DeviceId {
        &self.state.device_id
    }

    fn sign_proof(&self, method: &str, path: &str) -> Result<String, ClientError> {
        let url = format!("{}{path}", self.state.issuer);
        let jti = new_jti(&mut RandomRng::new(self.home.random.as_ref()));
        sign_request_proof(
            &self.key,
            &RequestTarget {
                issuer: &self.state.issuer,
                method,
                url: &url,
                access_token: None,
            },
            &jti,
            self.home.clock.unix(),
        )
        .map_err(ClientError::Statement)
    }

    /// The oldest pending login request, waiting up to `wait` for one to arrive (long poll,
    /// in rounds of at most 30 s). A challenge that does not verify against the pinned
    /// server key, or is not for this device and issuer, is refused
    /// ([`ClientError::ChallengeRefused`]): nothing can make this device sign it.
    pub async fn pending(&self, wait: Duration) -> Result<Option<PendingRequest>, ClientError> {
        Ok(self.pending_all(wait).await?.into_iter().next())
    }

    /// Every pending login request, oldest first, waiting up to `wait` for one to arrive.
    /// Logins from different browsers wait side by side; the person tells theirs by the
    /// service, browser and time, and by the number their browser shows. One challenge
    /// that does not verify refuses them all, as [`Authenticator::pending`] does.
    pub async fn pending_all(&self, wait: Duration) -> Result<Vec<PendingRequest>, ClientError> {
        let deadline = tokio::time::Instant::now() + wait;
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let round = left.min(MAX_WAIT_PER_REQUEST);
            let answer: PendingChallengeResponse = self
                .api
                .get(
                    &format!("{API_PREFIX}/challenges/pending"),
                    &format!("?wait={}", round.as_secs()),
                    Some(&signer),
                    round,
                )
                .await?;
            // A server from before several logins could wait sends `challenge` only.
            let challenges = if answer.challenges.is_empty() {
                answer.challenge.into_iter().collect()
            } else {
                answer.challenges
            };
            if !challenges.is_empty() {
                let now = self.home.clock.unix();
                return challenges
                    .iter()
                    .map(|jws| {
                        verify_login_challenge(
                            jws,
                            &self.pinned,
                            &self.state.issuer,
                            &self.state.device_id,
                            now,
                        )
                        .map(|challenge| PendingRequest { challenge })
                        .map_err(ClientError::ChallengeRefused)
                    })
                    .collect();
            }
            if round.as_secs() == 0 || tokio::time::Instant::now() >= deadline {
                return Ok(Vec::new());
            }
        }
    }

    /// Approves `request` with the number the user `picked`. The verifier runs first (the
    /// user proves presence and the key is unwrapped afresh); then the next signature
    /// counter is taken and persisted, and only then is the approval signed and sent.
    pub async fn approve(
        &self,
        request: PendingRequest,
        picked: u8,
        verifier: &dyn UserVerifier,
    ) -> Result<ChallengeOutcome, ClientError> {
        let reason = format!("Log in to {}?", request.challenge.payload().service);
        let unlocked = verifier.unlock(self.home.vault.as_ref(), &reason)?;
        if unlocked.key().device_id() != self.state.device_id {
            return Err(ClientError::State(
                "the key in the vault does not belong to the enrolled device".into(),
            ));
        }
        let uv = unlocked.method();
        let challenge_id = path_segment(request.challenge_id())?.to_owned();
        let ctr = self.home.state.next_counter()?;
        let statement = request
            .challenge
            .approve(picked, uv, ctr, unlocked.key(), self.home.clock.unix())
            .map_err(|e| match e {
                StatementError::NumberNotOffered => ClientError::NumberNotOffered(picked),
                other => ClientError::Statement(other),
            })?;
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let answer: ChallengeOutcomeResponse = self
            .api
            .post(
                &format!("{API_PREFIX}/challenges/{challenge_id}/approve"),
                &ApproveRequest {
                    v: ProtocolVersion,
                    statement,
                },
                Some(&signer),
            )
            .await?;
        Ok(answer.outcome)
    }

    /// Denies `request`; `report` is "this wasn't me". Needs no user verification
    /// (refusing is never dangerous) but is signed with the next counter.
    pub async fn deny(
        &self,
        request: PendingRequest,
        report: bool,
    ) -> Result<ChallengeOutcome, ClientError> {
        let challenge_id = path_segment(request.challenge_id())?.to_owned();
        let ctr = self.home.state.next_counter()?;
        let statement = request
            .challenge
            .deny(report, ctr, &self.key, self.home.clock.unix())
            .map_err(ClientError::Statement)?;
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let answer: ChallengeOutcomeResponse = self
            .api
            .post(
                &format!("{API_PREFIX}/challenges/{challenge_id}/deny"),
                &DenyRequest {
                    v: ProtocolVersion,
                    statement,
                },
                Some(&signer),
            )
            .await?;
        Ok(answer.outcome)
    }

    /// The person's past login requests, newest first (at most `limit`).
    pub async fn history(&self, limit: u32) -> Result<Vec<HistoryEntry>, ClientError> {
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let answer: HistoryResponse = self
            .api
            .get(
                &format!("{API_PREFIX}/history"),
                &format!("?limit={limit}"),
                Some(&signer),
                Duration::ZERO,
            )
            .await?;
        Ok(answer.entries)
    }

    /// The person's active devices, oldest first.
    pub async fn devices(&self) -> Result<Vec<DeviceSummary>, ClientError> {
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let answer: DeviceListResponse = self
            .api
            .get(
                &format!("{API_PREFIX}/devices"),
                "",
                Some(&signer),
                Duration::ZERO,
            )
            .await?;
        Ok(answer.devices)
    }

    /// Confirms `action` with fresh user verification: the verifier runs (the user proves
    /// presence and the key is unwrapped afresh), the next signature counter is taken and
    /// persisted, and only then is the action statement signed.
    fn confirm(
        &self,
        action: &Action,
        reason: &str,
        verifier: &dyn UserVerifier,
    ) -> Result<String, ClientError> {
        let unlocked = verifier.unlock(self.home.vault.as_ref(), reason)?;
        if unlocked.key().device_id() != self.state.device_id {
            return Err(ClientError::State(
                "the key in the vault does not belong to the enrolled device".into(),
            ));
        }
        let ctr = self.home.state.next_counter()?;
        sign_action(
            unlocked.key(),
            &self.state.issuer,
            action,
            unlocked.method(),
            ctr,
            self.home.clock.unix(),
        )
        .map_err(ClientError::Statement)
    }

    /// Revokes one of the person's devices (a lost phone), possibly this one, after the
    /// user is verified afresh by `verifier`.
    pub async fn revoke(
        &self,
        device: &DeviceId,
        verifier: &dyn UserVerifier,
    ) -> Result<(), ClientError> {
        let id = path_segment(device.as_str())?;
        let action = Action::RevokeDevice {
            device_id: id.to_owned(),
        };
        let statement = self.confirm(&action, "Remove this device from Nøkkel?", verifier)?;
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let _answer: RevokeDeviceResponse = self
            .api
            .confirmed::<(), _>(
                Method::DELETE,
                &format!("{API_PREFIX}/devices/{id}"),
                None,
                &signer,
                &statement,
            )
            .await?;
        Ok(())
    }

    /// Whether the person's app logins are paused after a "this wasn't me" report
    /// (`GET /api/v1/account`, a server addition beyond PROTOCOL.md v1's list).
    pub async fn app_logins_paused(&self) -> Result<bool, ClientError> {
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let answer: AccountAnswer = self
            .api
            .get(
                &format!("{API_PREFIX}/account"),
                "",
                Some(&signer),
                Duration::ZERO,
            )
            .await?;
        Ok(answer.app_login_blocked)
    }

    /// Resumes app logins after a report (`POST /api/v1/account/resume`), after the user is
    /// verified afresh by `verifier`; returns whether they are still paused.
    pub async fn resume_app_logins(
        &self,
        verifier: &dyn UserVerifier,
    ) -> Result<bool, ClientError> {
        let statement = self.confirm(
            &Action::ResumeAppLogins {},
            "Resume logins with Nøkkel?",
            verifier,
        )?;
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let answer: AccountAnswer = self
            .api
            .confirmed(
                Method::POST,
                &format!("{API_PREFIX}/account/resume"),
                Some(&AccountAnswerRequest { v: ProtocolVersion }),
                &signer,
                &statement,
            )
            .await?;
        Ok(answer.app_login_blocked)
    }

    /// Sets or replaces where the server wakes this device when a login waits
    /// (`PUT /api/v1/push`); returns the kind the server stored.
    pub async fn set_push(&self, registration: PushRegistration) -> Result<PushKind, ClientError> {
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let answer: PushStatusResponse = self
            .api
            .request(
                Method::PUT,
                &format!("{API_PREFIX}/push"),
                Some(&SetPushRequest {
                    v: ProtocolVersion,
                    registration,
                }),
                Some(&signer),
            )
            .await?;
        answer
            .kind
            .ok_or_else(|| ClientError::State("the server stored no push registration".into()))
    }

    /// Stops push wake-ups for this device (`DELETE /api/v1/push`); it still sees waiting
    /// logins when it asks.
    pub async fn clear_push(&self) -> Result<(), ClientError> {
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let _answer: PushStatusResponse = self
            .api
            .request::<(), _>(
                Method::DELETE,
                &format!("{API_PREFIX}/push"),
                None,
                Some(&signer),
            )
            .await?;
        Ok(())
    }

    /// The person's entry in the contact register (`GET /api/v1/contact`).
    pub async fn contact(&self) -> Result<ContactDetails, ClientError> {
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        self.api
            .get(
                &format!("{API_PREFIX}/contact"),
                "",
                Some(&signer),
                Duration::ZERO,
            )
            .await
    }

    /// Replaces (and so confirms as current) the contact register entry, after the user is
    /// verified afresh by `verifier`; `None` removes a value. National mobile numbers are
    /// Norwegian; others start with `+`.
    pub async fn update_contact(
        &self,
        mobile: Option<&str>,
        email: Option<&str>,
        verifier: &dyn UserVerifier,
    ) -> Result<ContactDetails, ClientError> {
        let action = Action::UpdateContact {
            mobile: mobile.map(str::to_owned),
            email: email.map(str::to_owned),
        };
        let statement = self.confirm(&action, "Save your contact details?", verifier)?;
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        self.api
            .confirmed(
                Method::PUT,
                &format!("{API_PREFIX}/contact"),
                Some(&UpdateContactRequest {
                    v: ProtocolVersion,
                    mobile: mobile.map(str::to_owned),
                    email: email.map(str::to_owned),
                }),
                &signer,
                &statement,
            )
            .await
    }

    /// Old phone: the transfer behind a code the person typed or scanned. A code with a
    /// typo is refused here ([`ClientError::InvalidInput`]) before the server is asked.
    pub async fn lookup_transfer(&self, code: &str) -> Result<TransferRequest, ClientError> {
        let code = TransferCode::parse(code)
            .map_err(|e| ClientError::InvalidInput(format!("transfer code: {e}")))?;
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let offer: TransferOfferResponse = self
            .api
            .post(
                &format!("{API_PREFIX}/transfers/lookup"),
                &LookupTransferRequest {
                    v: ProtocolVersion,
                    code: Redacted::new(code.grouped()),
                },
                Some(&signer),
            )
            .await?;
        if offer.issuer != self.state.issuer {
            return Err(ClientError::BadResponse {
                status: 200,
                detail: "the transfer names another issuer".into(),
            });
        }
        Ok(TransferRequest {
            transfer_id: path_segment(&offer.transfer_id)?.to_owned(),
            new_device_id: offer.new_device_id.clone(),
            device_name: offer.device_name,
            platform: offer.platform,
            started_at: offer.started_at,
            expires_at: offer.expires_at,
            offer: TransferOffer {
                issuer: offer.issuer,
                nonce: offer.nonce,
                new_device_id: offer.new_device_id,
            },
        })
    }

    /// Old phone: approves `request` after the verifier has verified the user afresh, with
    /// the next counter. With `retire` this device is revoked as the new one is enrolled,
    /// and its key and state here are deleted (the handle is then unusable: drop it).
    pub async fn approve_transfer(
        &self,
        request: &TransferRequest,
        retire: bool,
        verifier: &dyn UserVerifier,
    ) -> Result<TransferStatusResponse, ClientError> {
        let reason = format!("Move Nøkkel to {}?", request.device_name);
        let unlocked = verifier.unlock(self.home.vault.as_ref(), &reason)?;
        if unlocked.key().device_id() != self.state.device_id {
            return Err(ClientError::State(
                "the key in the vault does not belong to the enrolled device".into(),
            ));
        }
        let ctr = self.home.state.next_counter()?;
        let statement = sign_transfer(
            unlocked.key(),
            &request.offer,
            unlocked.method(),
            ctr,
            retire,
            self.home.clock.unix(),
        )
        .map_err(ClientError::Statement)?;
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        let answer: TransferStatusResponse = self
            .api
            .post(
                &format!("{API_PREFIX}/transfers/{}/approve", request.transfer_id),
                &ApproveTransferRequest {
                    v: ProtocolVersion,
                    statement,
                },
                Some(&signer),
            )
            .await?;
        if answer.old_device_retired {
            self.home.forget()?;
        }
        Ok(answer)
    }

    /// Old phone: refuses `request` (the person does not recognise the new phone).
    pub async fn refuse_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatusResponse, ClientError> {
        let signer = |m: &str, p: &str| self.sign_proof(m, p);
        self.api
            .post(
                &format!("{API_PREFIX}/transfers/{}/refuse", request.transfer_id),
                &StartTransferRequest { v: ProtocolVersion },
                Some(&signer),
            )
            .await
    }

    /// Deactivates this device: revokes it on the server (after the user is verified
    /// afresh by `verifier`), then deletes the key and the state here. A device the server
    /// already revoked is deleted here too.
    pub async fn deactivate(self, verifier: &dyn UserVerifier) -> Result<(), ClientError> {
        match self.revoke(&self.state.device_id, verifier).await {
            Ok(()) => {}
            Err(ClientError::Api { code, .. })
                if code == "device_revoked" || code == "device_clone_suspected" => {}
            Err(e) => return Err(e),
        }
        self.home.forget()
    }
}
