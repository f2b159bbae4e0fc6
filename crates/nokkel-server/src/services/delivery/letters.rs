//! Letters to the print house: each batch is a directory in the spool with one PDF per
//! letter and a `manifest.json`, written under a hidden temporary name, flushed to disk
//! and then renamed into place. So a batch appears whole, manifest included, or not at
//! all, and the print house may take any `batch-*` directory it sees.
//!
//! The file names are the letters' idempotency keys: a batch re-sent after a crash
//! (written, but not yet recorded as sent) holds letters the print house already has, and
//! it prints each key once (docs/OPERATIONS.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use nokkel_core::clock::Clock;
use nokkel_core::random::Random;
use ring::digest;
use serde::Serialize;

use super::{Outgoing, SendError, Sender};
use crate::config::LettersConfig;
use crate::letter::pdf::{self, PrintedLetter};
use crate::services::outbound::LetterMessage;
use crate::store::Channel;

/// Writes letter batches to the print house's spool directory.
pub struct SpoolSender {
    dir: PathBuf,
    batch_size: usize,
    register_url: String,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

/// The manifest of one batch.
#[derive(Serialize)]
struct Manifest<'a> {
    batch: &'a str,
    created_at: String,
    letters: Vec<ManifestEntry>,
}

#[derive(Serialize)]
struct ManifestEntry {
    file: String,
    idempotency_key: String,
    letter_id: String,
    abroad: bool,
    country: String,
    lang: &'static str,
    sha256: String,
    bytes: usize,
}

impl SpoolSender {
    /// A sender writing into `config.spool_dir` (created if missing).
    pub fn new(
        config: &LettersConfig,
        public_url: &str,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(&config.spool_dir).map_err(|e| {
            format!(
                "cannot create letters.spool_dir {}: {e}",
                config.spool_dir.display()
            )
        })?;
        Ok(Self {
            dir: config.spool_dir.clone(),
            batch_size: config.batch_size.max(1),
            register_url: format!("{}/register", public_url.trim_end_matches('/')),
            clock,
            random,
        })
    }

    fn render(&self, message: &Outgoing) -> Result<(LetterMessage, Vec<u8>), SendError> {
        let letter: LetterMessage = serde_json::from_slice(&message.body)
            .map_err(|e| SendError::Permanent(format!("unreadable letter: {e}")))?;
        let date = |text: &str| {
            time::Date::parse(
                text,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| SendError::Permanent("unreadable letter date".to_owned()))
        };
        let bytes = pdf::render(&PrintedLetter {
            lang: letter.lang,
            recipient: &letter.recipient,
            code_grouped: &letter.code_grouped,
            letter_date: date(&letter.letter_date)?,
            valid_until: date(&letter.valid_until)?,
            register_url: &self.register_url,
            reference: &letter.letter_id,
        })
        .map_err(|e| SendError::Permanent(format!("cannot render the letter: {e}")))?;
        Ok((letter, bytes))
    }

    fn batch_name(&self) -> String {
        let now = self.clock.now();
        let mut bytes = [0u8; 4];
        self.random.fill(&mut bytes);
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "batch-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{suffix}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        )
    }
}

/// Writes `files` and the manifest into a temporary directory in `spool`, flushes them,
/// then renames the directory to `name`.
fn write_batch(spool: &Path, name: &str, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let temp = spool.join(format!(".{name}.partial"));
    if temp.exists() {
        std::fs::remove_dir_all(&temp)?;
    }
    std::fs::create_dir(&temp)?;
    for (file, bytes) in files {
        let path = temp.join(file);
        std::fs::write(&path, bytes)?;
        std::fs::File::open(&path)?.sync_all()?;
    }
    std::fs::File::open(&temp)?.sync_all()?;
    std::fs::rename(&temp, spool.join(name))?;
    std::fs::File::open(spool)?.sync_all()?;
    Ok(())
}

#[async_trait]
impl Sender for SpoolSender {
    fn channel(&self) -> Channel {
        Channel::Letter
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    async fn send(&self, batch: &[Outgoing]) -> Vec<Result<(), SendError>> {
        let mut results: Vec<Result<(), SendError>> = Vec::with_capacity(batch.len());
        let mut files = Vec::new();
        let mut entries = Vec::new();
        for message in batch {
            match self.render(message) {
                Ok((letter, bytes)) => {
                    let file = format!("{}.pdf", message.idempotency_key);
                    let sha = digest::digest(&digest::SHA256, &bytes);
                    entries.push(ManifestEntry {
                        file: file.clone(),
                        idempotency_key: message.idempotency_key.clone(),
                        letter_id: letter.letter_id,
                        abroad: letter.abroad,
                        country: letter.country,
                        lang: letter.lang.tag(),
                        sha256: sha.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
                        bytes: bytes.len(),
                    });
                    files.push((file, bytes));
                    results.push(Ok(()));
                }
                Err(err) => results.push(Err(err)),
            }
        }
        if files.is_empty() {
            return results;
        }
        let name = self.batch_name();
        let manifest = Manifest {
            batch: &name,
            created_at: self
                .clock
                .now()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            letters: entries,
        };
        match serde_json::to_vec_pretty(&manifest) {
            Ok(json) => files.push(("manifest.json".to_owned(), json)),
            Err(e) => return fail_rendered(results, &format!("manifest: {e}")),
        }
        let spool = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || write_batch(&spool, &name, &files)).await;
        match written {
            Ok(Ok(())) => results,
            Ok(Err(e)) => fail_rendered(results, &format!("cannot write the batch: {e}")),
            Err(e) => fail_rendered(results, &format!("batch writer stopped: {e}")),
        }
    }
}

/// Turns every rendered (so far `Ok`) letter's result into a transient failure.
fn fail_rendered(results: Vec<Result<(), SendError>>, reason: &str) -> Vec<Result<(), SendError>> {
    results
        .into_iter()
        .map(|r| r.and(Err(SendError::Transient(reason.to_owned()))))
        .collect()
}
