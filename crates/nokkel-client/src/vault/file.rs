//! A vault in a file: for tests and the `nokkel device` software authenticator.

use std::path::{Path, PathBuf};

use super::{KeyVault, ProtectedKey, VaultError};
use crate::fsutil::{read_if_exists, remove_durably, sweep_temps, write_atomically, FileLock};

/// Keeps the protected key in one file (mode 0600), replaced atomically: a process killed
/// at any moment leaves either the old or the new complete key, never a torn one.
/// The file system is the only protection, so pair it with a passcode verifier for real
/// use; the CLI uses it with the test verifier on demo servers only.
#[derive(Debug, Clone)]
pub struct FileVault {
    path: PathBuf,
}

impl FileVault {
    /// A vault in the file `path` (created on first store, with its directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file it uses.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn io(err: std::io::Error) -> VaultError {
    VaultError::Io(err.to_string())
}

impl KeyVault for FileVault {
    fn store(&self, key: &ProtectedKey) -> Result<(), VaultError> {
        let _lock = FileLock::acquire(&self.path).map_err(io)?;
        sweep_temps(&self.path).map_err(io)?;
        write_atomically(&self.path, key.as_bytes()).map_err(io)
    }

    fn load(&self) -> Result<Option<ProtectedKey>, VaultError> {
        match read_if_exists(&self.path).map_err(io)? {
            Some(bytes) if bytes.is_empty() => Err(VaultError::Corrupt("empty key file")),
            Some(bytes) => Ok(Some(ProtectedKey::from_bytes(bytes))),
            None => Ok(None),
        }
    }

    fn delete(&self) -> Result<(), VaultError> {
        let _lock = FileLock::acquire(&self.path).map_err(io)?;
        sweep_temps(&self.path).map_err(io)?;
        remove_durably(&self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_load_delete() {
        let dir = tempfile::tempdir().unwrap();
        let vault = FileVault::new(dir.path().join("device.key"));
        assert_eq!(vault.load().unwrap(), None);
        vault
            .store(&ProtectedKey::from_bytes(vec![0, 1, 2]))
            .unwrap();
        vault
            .store(&ProtectedKey::from_bytes(vec![0, 3, 4]))
            .unwrap();
        assert_eq!(vault.load().unwrap().unwrap().as_bytes(), &[0, 3, 4]);
        vault.delete().unwrap();
        assert_eq!(vault.load().unwrap(), None);
        vault.delete().unwrap();
    }

    #[test]
    fn debug_hides_the_key() {
        let key = ProtectedKey::from_bytes(vec![0xAB; 33]);
        let debug = format!("{key:?}");
        assert!(
            !debug.contains("171") && !debug.to_lowercase().contains("ab,"),
            "{debug}"
        );
    }
}
