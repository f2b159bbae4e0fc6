//! The enrolled device's local state (server, issuer, device id, pinned server key,
//! signature counter, name), persisted as JSON next to the key and replaced atomically.

use std::path::{Path, PathBuf};

use nokkel_core::keys::{DeviceId, PublicJwk};
use nokkel_core::statements::{Platform, UserVerification, MAX_COUNTER};
use serde::{Deserialize, Serialize};

use crate::error::ClientError;
use crate::fsutil::{read_if_exists, remove_durably, write_atomically, FileLock};

/// Version of the state file format.
pub(crate) const STATE_VERSION: u64 = 1;

/// What the device remembers between runs. Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceState {
    pub v: u64,
    /// Where requests go (may differ from the issuer, e.g. `10.0.2.2` in an emulator).
    pub server_url: String,
    /// The issuer: `aud` of our statements, `iss` of challenges, base of proof `htu`.
    pub issuer: String,
    pub device_id: DeviceId,
    pub name: String,
    pub platform: Platform,
    pub uv_methods: Vec<UserVerification>,
    /// The server's challenge-signing key, pinned at enrolment.
    pub challenge_key: PublicJwk,
    /// The last signature counter used (0 = none yet).
    pub counter: u64,
    pub enrolled_at: i64,
}

/// The state file (`device.json`) in a state directory.
#[derive(Debug, Clone)]
pub(crate) struct StateFile {
    path: PathBuf,
}

fn state_error(what: &str, err: impl std::fmt::Display) -> ClientError {
    ClientError::State(format!("{what}: {err}"))
}

impl StateFile {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("device.json"),
        }
    }

    pub fn load(&self) -> Result<Option<DeviceState>, ClientError> {
        let Some(bytes) = read_if_exists(&self.path)
            .map_err(|e| state_error(&format!("cannot read {}", self.path.display()), e))?
        else {
            return Ok(None);
        };
        let state: DeviceState = serde_json::from_slice(&bytes)
            .map_err(|e| state_error(&format!("{} is unreadable", self.path.display()), e))?;
        if state.v != STATE_VERSION {
            return Err(ClientError::State(format!(
                "{} has format version {}; this program reads {STATE_VERSION}",
                self.path.display(),
                state.v
            )));
        }
        Ok(Some(state))
    }

    pub fn save(&self, state: &DeviceState) -> Result<(), ClientError> {
        let _lock = FileLock::acquire(&self.path).map_err(|e| state_error("cannot lock", e))?;
        self.write(state)
    }

    fn write(&self, state: &DeviceState) -> Result<(), ClientError> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| state_error("encode", e))?;
        write_atomically(&self.path, &bytes)
            .map_err(|e| state_error(&format!("cannot write {}", self.path.display()), e))
    }

    /// Takes the next signature counter and persists it before returning, under a lock, so
    /// neither a crash nor a second process can ever sign two statements with one value.
    pub fn next_counter(&self) -> Result<u64, ClientError> {
        let _lock = FileLock::acquire(&self.path).map_err(|e| state_error("cannot lock", e))?;
        let mut state = self.load()?.ok_or(ClientError::NotEnrolled)?;
        let next = state.counter.saturating_add(1);
        if next > MAX_COUNTER {
            return Err(ClientError::State("signature counter exhausted".into()));
        }
        state.counter = next;
        self.write(&state)?;
        Ok(next)
    }

    pub fn delete(&self) -> Result<(), ClientError> {
        remove_durably(&self.path).map_err(|e| state_error("cannot delete state", e))
    }
}
