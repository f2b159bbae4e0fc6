//! Crash-safe small files: atomic replace (temp file, fsync, rename, fsync directory),
//! owner-only permissions, and an advisory lock for read-modify-write.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Permissions of every file this crate writes: owner read/write only.
#[cfg(unix)]
const PRIVATE_MODE: u32 = 0o600;

/// Prefix of temporary files, followed by the target's name: `.<name>.tmp-<pid>-<n>`.
fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

/// Replaces `path` with `bytes` so that, whatever moment the process dies at, the file
/// holds either its old complete content or the new complete content:
/// write a temporary file in the same directory, fsync it, rename it over the target
/// (atomic on POSIX file systems), then fsync the directory so the rename itself is
/// durable.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path)?;
    let name = file_name(path)?;
    fs::create_dir_all(&dir)?;
    let temp = unique_temp(&dir, &name);
    let result = (|| {
        let mut file = create_private(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Removes leftovers of writes that were killed before their rename. They may hold a copy
/// of a secret, so they must not linger. Call with the file's lock held.
pub(crate) fn sweep_temps(path: &Path) -> io::Result<()> {
    let dir = parent(path)?;
    let prefix = temp_prefix(&file_name(path)?);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Removes `path` durably; a missing file is not an error.
pub(crate) fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(&parent(path)?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads `path`, or None when it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// An exclusive advisory lock on `<path>.lock`, held until dropped. Serialises
/// read-modify-write of one file between processes (two `nokkel device` commands).
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    pub(crate) fn acquire(path: &Path) -> io::Result<Self> {
        let dir = parent(path)?;
        fs::create_dir_all(&dir)?;
        let lock_path = dir.join(format!("{}.lock", file_name(path)?));
        let file = match create_private(&lock_path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                OpenOptions::new().write(true).open(&lock_path)?
            }
            Err(e) => return Err(e),
        };
        fs4::fs_std::FileExt::lock_exclusive(&file)?;
        Ok(Self { _file: file })
    }
}

fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(PRIVATE_MODE);
    }
    options.open(path)
}

fn unique_temp(dir: &Path, name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{}{}-{n}", temp_prefix(name), std::process::id()))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    // Directories can be opened read-only and fsynced on Unix; Windows cannot open them
    // this way and makes renames durable by itself (MoveFileEx with write-through).
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn parent(path: &Path) -> io::Result<PathBuf> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => Ok(p.to_path_buf()),
        _ => Ok(PathBuf::from(".")),
    }
}

fn file_name(path: &Path) -> io::Result<String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("f");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["f".to_owned()], "no temp file left behind");
    }

    #[test]
    fn sweep_removes_only_this_files_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        fs::write(dir.path().join(".device.key.tmp-1-0"), b"x").unwrap();
        fs::write(dir.path().join(".other.tmp-1-0"), b"x").unwrap();
        sweep_temps(&path).unwrap();
        assert!(!dir.path().join(".device.key.tmp-1-0").exists());
        assert!(dir.path().join(".other.tmp-1-0").exists());
        assert_eq!(read_if_exists(&path).unwrap(), None);
        remove_durably(&path).unwrap();
    }
}
