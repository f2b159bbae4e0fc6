//! A scripted, in-memory [`Authenticator`] for UI work and end-to-end tests of the shell
//! (selected with `NOKKEL_TEST_MOCK=1`). It talks to no server and signs nothing.
//!
//! Script: any activation that passes the core rules succeeds; once the device is unlocked
//! one login from "Skatteetaten" is pending, offering [`CHOICES`], of which [`NUMBER`] is the
//! one "the browser shows". A wrong pick fails with `wrong_number`, as the real server does.
//!
//! Reporting the login ("this wasn't me") pauses app logins, as on the real server, until
//! the person resumes them with their passcode or face/finger.
//!
//! Moving phones: as the new phone, a started transfer shows [`TRANSFER_CODE`] and the
//! scripted old phone approves it [`TRANSFER_DECIDED_AFTER`] seconds later (the app is then
//! enrolled, still to be opened). As the old phone, every well-formed code finds the new
//! phone [`NEW_PHONE`] except [`UNKNOWN_TRANSFER_CODE`], which the "server" does not know.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use nokkel_core::clock::Clock;
use nokkel_core::push::PushRegistration;

use crate::authenticator::{
    AccountStatus, Activation, Authenticator, ContactDetails, DeviceStatus, HistoryItem,
    LoginRequest, Outcome, Passcode, TransferApproved, TransferOffer, TransferProgress,
    TransferShown, UserProof, Verification,
};
use crate::error::AppError;

/// The numbers the scripted login offers, in display order.
pub const CHOICES: [u8; 3] = [27, 64, 81];
/// The number the scripted login's browser shows.
pub const NUMBER: u8 = 64;
/// How long the scripted login stays open, as on the real server.
pub const CHALLENGE_SECONDS: i64 = 120;
/// The code the scripted new phone shows (a well-formed transfer code).
pub const TRANSFER_CODE: &str = "K4R-T2W-Q5B";
/// Seconds after the start at which the scripted old phone approves.
pub const TRANSFER_DECIDED_AFTER: i64 = 5;
/// How long a transfer lasts, as on the real server.
pub const TRANSFER_SECONDS: i64 = 600;
/// A well-formed code the scripted server does not know.
pub const UNKNOWN_TRANSFER_CODE: &str = "000-000-000";
/// The name of the new phone the scripted old phone finds.
pub const NEW_PHONE: &str = "Kari's new phone";
/// The id of the transfer the scripted old phone finds.
pub const TRANSFER_ID: &str = "mock-transfer-1";

/// A transfer the scripted new phone started.
struct StartedTransfer {
    started_at: i64,
    device_name: String,
    proof: UserProof,
}

#[derive(Default)]
struct State {
    device_name: Option<String>,
    verification: Option<Verification>,
    passcode: Option<Passcode>,
    contact_done: bool,
    unlocked: bool,
    /// The scripted login is served once; answering it ends it.
    login_answered: bool,
    login_started_at: Option<i64>,
    history: Vec<HistoryItem>,
    /// App logins are paused after a report.
    logins_paused: bool,
    /// New phone: the transfer waiting for the scripted old phone.
    transfer: Option<StartedTransfer>,
    /// Old phone: a transfer was looked up and not yet answered.
    offer_open: bool,
    /// Where the scripted server would wake this device.
    push: Option<PushRegistration>,
    /// How many times a registration was sent (`PUT /api/v1/push`).
    push_sent: usize,
}

/// The scripted authenticator.
pub struct MockAuthenticator {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl MockAuthenticator {
    /// A fresh, not yet activated device.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let now = clock.unix();
        let state = State {
            history: vec![HistoryItem {
                at: now - 3 * 86_400,
                service: "NAV".into(),
                browser: "Firefox".into(),
                os: "Windows".into(),
                place: Some("Bergen".into()),
                outcome: "approved".into(),
            }],
            ..State::default()
        };
        Self {
            clock,
            state: Mutex::new(state),
        }
    }

    /// The push registration the scripted server holds for this device.
    pub fn push_registration(&self) -> Option<PushRegistration> {
        self.lock().push.clone()
    }

    /// How many registrations were sent since the device was activated.
    pub fn pushes_sent(&self) -> usize {
        self.lock().push_sent
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another command panicked mid-update; the state is
        // plain data and still usable for a mock.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn request(&self, state: &mut State) -> Option<LoginRequest> {
        if !state.unlocked || state.login_answered {
            return None;
        }
        let started_at = *state.login_started_at.get_or_insert(self.clock.unix());
        Some(LoginRequest {
            challenge_id: "mock-challenge-1".into(),
            service: "Skatteetaten".into(),
            started_at,
            expires_at: started_at + CHALLENGE_SECONDS,
            browser: "Firefox".into(),
            os: "Linux".into(),
            place: Some("Oslo".into()),
            choices: CHOICES,
        })
    }

    fn answer(&self, state: &mut State, challenge_id: &str) -> Result<LoginRequest, AppError> {
        let request = self
            .request(state)
            .filter(|r| r.challenge_id == challenge_id)
            .ok_or_else(|| AppError::new("no_pending_challenge", "no such pending login"))?;
        state.login_answered = true;
        if self.clock.unix() >= request.expires_at {
            state.history.insert(0, history_item(&request, "expired"));
            return Err(AppError::new("expired", "the login request has expired"));
        }
        Ok(request)
    }
}

/// Checks `proof` against what the scripted device was set up with.
fn verify(state: &State, proof: &UserProof) -> Result<(), AppError> {
    match (proof, &state.passcode, state.verification) {
        (UserProof::Passcode(given), Some(set), _) if given == set => Ok(()),
        (UserProof::Passcode(_), _, _) => {
            Err(AppError::new("wrong_passcode", "the passcode is wrong"))
        }
        (UserProof::Biometric, _, Some(Verification::Biometric)) => Ok(()),
        (UserProof::Biometric, _, _) => Err(AppError::new(
            "verification_unavailable",
            "biometric verification is not set up",
        )),
    }
}

fn status(state: &State) -> DeviceStatus {
    DeviceStatus {
        enrolled: state.device_name.is_some(),
        device_name: state.device_name.clone(),
        verification: state.verification,
        contact_done: state.contact_done,
        unlocked: state.unlocked,
    }
}

fn history_item(request: &LoginRequest, outcome: &str) -> HistoryItem {
    HistoryItem {
        at: request.started_at,
        service: request.service.clone(),
        browser: request.browser.clone(),
        os: request.os.clone(),
        place: request.place.clone(),
        outcome: outcome.into(),
    }
}

#[async_trait]
impl Authenticator for MockAuthenticator {
    async fn status(&self) -> Result<DeviceStatus, AppError> {
        Ok(status(&self.lock()))
    }

    async fn enrol(
        &self,
        activation: Activation,
        proof: UserProof,
        _server: &str,
    ) -> Result<DeviceStatus, AppError> {
        let mut state = self.lock();
        if state.device_name.is_some() {
            return Err(AppError::new(
                "already_enrolled",
                "this app is already activated",
            ));
        }
        state.device_name = Some(activation.device_name);
        match proof {
            UserProof::Passcode(code) => {
                state.verification = Some(Verification::Passcode);
                state.passcode = Some(code);
            }
            UserProof::Biometric => state.verification = Some(Verification::Biometric),
        }
        state.unlocked = true;
        Ok(status(&state))
    }

    async fn unlock(&self, proof: UserProof) -> Result<DeviceStatus, AppError> {
        let mut state = self.lock();
        if state.device_name.is_none() {
            return Err(AppError::not_enrolled());
        }
        verify(&state, &proof)?;
        state.unlocked = true;
        Ok(status(&state))
    }

    async fn save_contact(
        &self,
        contact: ContactDetails,
        proof: UserProof,
    ) -> Result<DeviceStatus, AppError> {
        let mut state = self.lock();
        if state.device_name.is_none() {
            return Err(AppError::not_enrolled());
        }
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
        if !(blank(&contact.mobile) && blank(&contact.email)) {
            // Like the real device side: changing the register needs the person verified.
            verify(&state, &proof)?;
        }
        state.contact_done = true;
        Ok(status(&state))
    }

    async fn pending_request(&self, wait_secs: u32) -> Result<Option<LoginRequest>, AppError> {
        let found = {
            let mut state = self.lock();
            if !state.unlocked {
                return Err(AppError::new("locked", "the device is not unlocked"));
            }
            match self.request(&mut state) {
                Some(r) if self.clock.unix() >= r.expires_at => {
                    state.login_answered = true;
                    state.history.insert(0, history_item(&r, "expired"));
                    None
                }
                other => other,
            }
        };
        if found.is_none() && wait_secs > 0 {
            // Behave like the server's long poll, so the UI's listening loop does not spin.
            tokio::time::sleep(std::time::Duration::from_secs(u64::from(wait_secs))).await;
        }
        Ok(found)
    }

    async fn approve(
        &self,
        challenge_id: &str,
        number: u8,
        proof: UserProof,
    ) -> Result<Outcome, AppError> {
        let mut state = self.lock();
        verify(&state, &proof)?;
        let offered = self
            .request(&mut state)
            .filter(|r| r.challenge_id == challenge_id)
            .ok_or_else(|| AppError::new("no_pending_challenge", "no such pending login"))?
            .choices
            .contains(&number);
        if !offered {
            return Err(AppError::new(
                "number_not_offered",
                "that number was not offered",
            ));
        }
        let request = self.answer(&mut state, challenge_id)?;
        if number != NUMBER {
            state
                .history
                .insert(0, history_item(&request, "wrong_number"));
            return Err(AppError::new(
                "wrong_number",
                "the picked number is not the one shown",
            ));
        }
        state.history.insert(0, history_item(&request, "approved"));
        Ok(Outcome::Approved)
    }

    async fn deny(&self, challenge_id: &str, report: bool) -> Result<Outcome, AppError> {
        let mut state = self.lock();
        let request = self.answer(&mut state, challenge_id)?;
        let (outcome, word) = if report {
            (Outcome::Reported, "reported")
        } else {
            (Outcome::Denied, "denied")
        };
        state.history.insert(0, history_item(&request, word));
        state.logins_paused |= report;
        Ok(outcome)
    }

    async fn history(&self) -> Result<Vec<HistoryItem>, AppError> {
        Ok(self.lock().history.clone())
    }

    async fn deactivate(&self, proof: UserProof) -> Result<DeviceStatus, AppError> {
        let mut state = self.lock();
        verify(&state, &proof)?;
        *state = State::default();
        Ok(status(&state))
    }

    async fn account(&self) -> Result<AccountStatus, AppError> {
        let state = self.lock();
        if !state.unlocked {
            return Err(AppError::new("locked", "the device is not unlocked"));
        }
        Ok(AccountStatus {
            app_logins_paused: state.logins_paused,
        })
    }

    async fn resume_logins(&self, proof: UserProof) -> Result<AccountStatus, AppError> {
        let mut state = self.lock();
        if !state.unlocked {
            return Err(AppError::new("locked", "the device is not unlocked"));
        }
        verify(&state, &proof)?;
        state.logins_paused = false;
        Ok(AccountStatus {
            app_logins_paused: false,
        })
    }

    async fn start_transfer(
        &self,
        device_name: String,
        proof: UserProof,
        _server: &str,
    ) -> Result<TransferShown, AppError> {
        let mut state = self.lock();
        if state.device_name.is_some() {
            return Err(AppError::new(
                "already_enrolled",
                "this app is already activated",
            ));
        }
        let started_at = self.clock.unix();
        state.transfer = Some(StartedTransfer {
            started_at,
            device_name,
            proof,
        });
        Ok(TransferShown {
            code: TRANSFER_CODE.into(),
            expires_at: started_at + TRANSFER_SECONDS,
        })
    }

    async fn wait_transfer(&self, wait_secs: u32) -> Result<TransferProgress, AppError> {
        let decided_at = {
            let state = self.lock();
            let started = state
                .transfer
                .as_ref()
                .ok_or_else(|| AppError::new("no_transfer", "no move was started"))?;
            started.started_at + TRANSFER_DECIDED_AFTER
        };
        let left = decided_at - self.clock.unix();
        if left > 0 {
            // Wait like the server's long poll, but no longer than until the decision.
            let secs = left.min(i64::from(wait_secs.min(30)));
            if secs > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(secs.unsigned_abs())).await;
            }
            if self.clock.unix() < decided_at {
                return Ok(TransferProgress::Waiting);
            }
        }
        let mut state = self.lock();
        let Some(started) = state.transfer.take() else {
            return Err(AppError::new("no_transfer", "no move was started"));
        };
        state.device_name = Some(started.device_name);
        match started.proof {
            UserProof::Passcode(code) => {
                state.verification = Some(Verification::Passcode);
                state.passcode = Some(code);
            }
            UserProof::Biometric => state.verification = Some(Verification::Biometric),
        }
        state.contact_done = true;
        state.unlocked = false;
        Ok(TransferProgress::Enrolled {
            device: status(&state),
        })
    }

    async fn lookup_transfer(&self, code: &str) -> Result<TransferOffer, AppError> {
        let mut state = self.lock();
        if !state.unlocked {
            return Err(AppError::new("locked", "the device is not unlocked"));
        }
        if code == UNKNOWN_TRANSFER_CODE {
            return Err(AppError::new("unknown_transfer", "no such transfer"));
        }
        state.offer_open = true;
        let now = self.clock.unix();
        Ok(TransferOffer {
            transfer_id: TRANSFER_ID.into(),
            device_name: NEW_PHONE.into(),
            platform: "android".into(),
            started_at: now - 60,
            expires_at: now - 60 + TRANSFER_SECONDS,
        })
    }

    async fn approve_transfer(
        &self,
        transfer_id: &str,
        retire: bool,
        proof: UserProof,
    ) -> Result<TransferApproved, AppError> {
        let mut state = self.lock();
        if !state.offer_open || transfer_id != TRANSFER_ID {
            return Err(AppError::new("unknown_transfer", "no such transfer"));
        }
        verify(&state, &proof)?;
        state.offer_open = false;
        if retire {
            *state = State::default();
        }
        Ok(TransferApproved {
            retired: retire,
            device: status(&state),
        })
    }

    async fn refuse_transfer(&self, transfer_id: &str) -> Result<(), AppError> {
        let mut state = self.lock();
        if !state.offer_open || transfer_id != TRANSFER_ID {
            return Err(AppError::new("unknown_transfer", "no such transfer"));
        }
        state.offer_open = false;
        Ok(())
    }

    async fn set_push(&self, registration: PushRegistration) -> Result<(), AppError> {
        let mut state = self.lock();
        if !state.unlocked {
            return Err(AppError::new("locked", "open the app first"));
        }
        state.push = Some(registration);
        state.push_sent += 1;
        Ok(())
    }

    async fn clear_push(&self) -> Result<(), AppError> {
        let mut state = self.lock();
        if !state.unlocked {
            return Err(AppError::new("locked", "open the app first"));
        }
        state.push = None;
        Ok(())
    }

    async fn reset_here(&self) -> Result<DeviceStatus, AppError> {
        let mut state = self.lock();
        *state = State::default();
        Ok(status(&state))
    }
}
