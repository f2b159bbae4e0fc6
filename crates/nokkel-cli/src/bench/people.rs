//! The people `nokkel bench --url` logs in: enrolled over HTTP the way a citizen does it
//! (order a letter → read it → enrol a device key), and kept in a state file so later
//! runs against the same server reuse them.
//!
//! The people must already be in the server's population register (`nokkel admin
//! population generate` and `import`), and the server must run with `--demo`: the codes
//! are read from the developer inbox and the devices are software authenticators.

use std::collections::HashSet;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nokkel_core::clock::{Clock as _, SystemClock};
use nokkel_core::keys::{DeviceId, DeviceKey, PublicJwk, PublicKey, ServerKey};
use nokkel_core::random::{OsRandom, RandomRng};
use nokkel_core::statements::{sign_enrolment, DeviceDescription, Platform, UserVerification};
use nokkel_core::wire::{
    FinishEnrolmentRequest, ProtocolVersion, Redacted, StartEnrolmentRequest,
    StartEnrolmentResponse,
};
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};

/// Letters ordered from one client address: under the server's 30 orders per address and
/// hour (docs/RULES.md), and well inside the 200 newest letters `/dev/letters` lists.
const PER_ADDRESS: usize = 20;

/// A person with an enrolled software device, ready to approve logins.
pub struct Person {
    pub pid: String,
    pub key: ServerKey,
    pub device_id: DeviceId,
    pub pinned: PublicKey,
    /// The approval counter; it must grow with every approval.
    pub counter: u64,
}

/// What the state file keeps per person. It holds device keys: the file is created
/// readable by its owner only, and nothing from it is printed.
#[derive(Serialize, Deserialize)]
struct Enrolled {
    pid: String,
    /// The device's P-256 secret scalar, base64url.
    device_key: String,
    /// The server's login-challenge key, pinned at enrolment.
    pinned: PublicJwk,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    issuer: String,
    people: Vec<Enrolled>,
}

/// Where the state lives unless `--state` says: next to the population file.
pub fn default_state_path(population: &Path) -> PathBuf {
    population.with_extension("bench-state.json")
}

/// `count` people with enrolled devices: from the state file, enrolling more from the
/// population file when it holds too few.
pub async fn prepare(
    base: &str,
    issuer: &str,
    population: Option<&Path>,
    state_path: &Path,
    count: usize,
) -> anyhow::Result<Vec<Person>> {
    let mut state = match std::fs::read(state_path) {
        Ok(bytes) => serde_json::from_slice::<StateFile>(&bytes)
            .with_context(|| format!("state file {} unreadable", state_path.display()))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => StateFile {
            issuer: issuer.to_owned(),
            people: Vec::new(),
        },
        Err(err) => bail!("cannot read {}: {err}", state_path.display()),
    };
    if state.issuer != issuer {
        bail!(
            "state file {} belongs to {}, not {issuer}; pass another --state",
            state_path.display(),
            state.issuer
        );
    }
    if state.people.len() < count {
        let population = population.ok_or_else(|| {
            anyhow!(
                "{} holds {} enrolled people, {count} are needed: pass --population FILE.csv \
                 (nokkel admin population generate, then import it into the server)",
                state_path.display(),
                state.people.len()
            )
        })?;
        let text = std::fs::read_to_string(population)
            .with_context(|| format!("cannot read {}", population.display()))?;
        let known: HashSet<String> = state.people.iter().map(|p| p.pid.clone()).collect();
        let candidates: Vec<String> = nokkel_server::store::people::parse_population_csv(&text)?
            .into_iter()
            .map(|p| p.pid)
            .filter(|pid| !known.contains(pid))
            .collect();
        let missing = count - state.people.len();
        eprintln!("enrolling {missing} people over HTTP…");
        let base_url = url::Url::parse(base)?;
        let mut skipped = 0usize;
        for batch in candidates.chunks(PER_ADDRESS) {
            if state.people.len() >= count {
                break;
            }
            let want = (count - state.people.len()).min(batch.len());
            let client = household_client(&base_url)?;
            let (enrolled, refused) = enrol_batch(&client, base, &batch[..want]).await?;
            skipped += refused;
            state.people.extend(enrolled);
            // Save after every batch: an interrupted preparation keeps what it enrolled.
            save(state_path, &state)?;
        }
        if state.people.len() < count {
            bail!(
                "only {} people could be enrolled ({skipped} got no letter): import more people \
                 (nokkel admin population import) and check the server runs with --demo",
                state.people.len()
            );
        }
    }
    let counter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| u64::try_from(t.as_micros()).unwrap_or(u64::MAX / 2));
    let random = SystemRandom::new();
    state
        .people
        .iter()
        .take(count)
        .map(|person| {
            let secret = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.decode(&person.device_key)?);
            let key = ServerKey::from_secret_bytes(&secret, &random)?;
            Ok(Person {
                pid: person.pid.clone(),
                device_id: key.public_key().device_id(),
                key,
                pinned: PublicKey::from_jwk(&person.pinned)?,
                // Microseconds since the epoch: above every counter an earlier run used,
                // as long as no person approved a million logins a second.
                counter,
            })
        })
        .collect()
}

/// A client that orders from its own loopback source address, as a household ordering
/// letters would: the server's per-address limits stay as they are, and the bench
/// spreads its orders over many addresses instead. Only for loopback servers; any
/// other URL gets one ordinary client.
fn household_client(base: &url::Url) -> anyhow::Result<reqwest::Client> {
    let loopback = match base.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        _ => false,
    };
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if loopback {
        let mut bytes = [0u8; 3];
        ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes)
            .map_err(|_| anyhow!("no randomness"))?;
        let address = Ipv4Addr::new(127, bytes[0].max(1), bytes[1], bytes[2].clamp(1, 254));
        builder = builder.local_address(IpAddr::V4(address));
    }
    Ok(builder.build()?)
}

#[derive(Deserialize)]
struct InboxLetter {
    pid: String,
    code: String,
}

async fn enrol_batch(
    client: &reqwest::Client,
    base: &str,
    pids: &[String],
) -> anyhow::Result<(Vec<Enrolled>, usize)> {
    for pid in pids {
        let res = client
            .post(format!("{base}/api/v1/orders"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::json!({"v": 1, "pid": pid}).to_string())
            .send()
            .await?;
        if res.status() != reqwest::StatusCode::ACCEPTED {
            bail!("ordering a letter failed ({})", res.status());
        }
    }
    let res = client
        .get(format!("{base}/dev/letters?format=json"))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!(
            "the developer inbox answered {} (is the server running with --demo?)",
            res.status()
        );
    }
    // Newest first: the first letter for a person is the one just ordered.
    let letters: Vec<InboxLetter> = serde_json::from_slice(&res.bytes().await?)?;
    let mut enrolled = Vec::new();
    let mut refused = 0;
    for pid in pids {
        let Some(letter) = letters.iter().find(|l| &l.pid == pid) else {
            // Not in the register, or already a user: the receipt does not tell.
            refused += 1;
            continue;
        };
        enrolled.push(enrol(client, base, pid, &letter.code).await?);
    }
    Ok((enrolled, refused))
}

async fn enrol(
    client: &reqwest::Client,
    base: &str,
    pid: &str,
    code: &str,
) -> anyhow::Result<Enrolled> {
    let start = StartEnrolmentRequest {
        v: ProtocolVersion,
        pid: pid.to_owned(),
        activation_code: Redacted::new(code),
    };
    let res = client
        .post(format!("{base}/api/v1/enrolments"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&start)?)
        .send()
        .await?;
    if res.status() != reqwest::StatusCode::CREATED {
        bail!("starting an enrolment failed ({})", res.status());
    }
    let started: StartEnrolmentResponse = serde_json::from_slice(&res.bytes().await?)?;
    let pinned = PublicKey::from_jwk(&started.challenge_key)?;
    if pinned.thumbprint() != started.challenge_key_id {
        bail!("the server's challenge key does not match its key id");
    }
    let key = DeviceKey::generate(&mut RandomRng::new(&OsRandom));
    let statement = sign_enrolment(
        &key,
        &started.issuer,
        &started.nonce,
        &DeviceDescription {
            name: "nokkel bench".into(),
            platform: Platform::Software,
            uv_methods: vec![UserVerification::NoneTest],
        },
        SystemClock.unix(),
    )?;
    let finish = FinishEnrolmentRequest {
        v: ProtocolVersion,
        statement,
    };
    let res = client
        .post(format!(
            "{base}/api/v1/enrolments/{}/finish",
            started.enrolment_id
        ))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&finish)?)
        .send()
        .await?;
    if res.status() != reqwest::StatusCode::CREATED {
        bail!("finishing an enrolment failed ({})", res.status());
    }
    Ok(Enrolled {
        pid: pid.to_owned(),
        device_key: URL_SAFE_NO_PAD.encode(key.to_secret_bytes().as_ref()),
        pinned: started.challenge_key,
    })
}

/// Writes the state file (owner-only) through a temporary file and a rename.
fn save(path: &Path, state: &StateFile) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(&serde_json::to_vec(state)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
