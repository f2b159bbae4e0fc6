//! A scripted, in-memory [`Authenticator`] for UI work and end-to-end tests of the shell
//! (selected with `NOKKEL_TEST_MOCK=1`). It talks to no server and signs nothing.
//!
//! Script: any activation that passes the core rules succeeds; once the device is unlocked
//! one login from "Skatteetaten" is pending, offering [`CHOICES`], of which [`NUMBER`] is the
//! one "the browser shows". A wrong pick fails with `wrong_number`, as the real server does.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use nokkel_core::clock::Clock;

use crate::authenticator::{
    Activation, Authenticator, ContactDetails, DeviceStatus, HistoryItem, LoginRequest, Outcome,
    Passcode, UserProof, Verification,
};
use crate::error::AppError;

/// The numbers the scripted login offers, in display order.
pub const CHOICES: [u8; 3] = [27, 64, 81];
/// The number the scripted login's browser shows.
pub const NUMBER: u8 = 64;
/// How long the scripted login stays open, as on the real server.
pub const CHALLENGE_SECONDS: i64 = 120;

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

    async fn reset_here(&self) -> Result<DeviceStatus, AppError> {
        let mut state = self.lock();
        *state = State::default();
        Ok(status(&state))
    }
}
