//! Test support for Nøkkel: a throwaway PostgreSQL cluster, a fresh database per test.
//!
//! [`PgCluster::start`] runs Debian's PostgreSQL server binaries (`initdb`, `pg_ctl`,
//! `psql` under `/usr/lib/postgresql/<version>/bin`, newest version first; override
//! with `NOKKEL_TEST_PG_BIN=/path/to/bin`) in a temporary directory, listening on a free
//! loopback port with its socket in that directory. As root it runs the server as
//! the `postgres` user through `runuser` (initdb refuses root). [`PgCluster::shared`]
//! starts one cluster per test binary on first use; [`PgCluster::create_database`]
//! gives each test its own database, so tests never see each other's rows.
//!
//! # When PostgreSQL is missing
//!
//! Starting fails with [`PgError`], whose message says what to install
//! (`apt-get install postgresql`). Tests must turn that into a **failure**, never a
//! skip. There is deliberately no environment variable that skips PostgreSQL: a skip
//! hidden in captured test output would pass unnoticed. To run only the SQLite half of
//! a suite, filter by name (`cargo test -- sqlite`), which cargo reports as
//! "N filtered out".
//!
//! # Cleanup
//!
//! The cluster is stopped and its directory removed when [`PgCluster`] is dropped.
//! The shared cluster lives in a static, which Rust never drops, so every cluster is
//! also watched by a small shell process whose standard input is a pipe from the
//! test process: when the test process exits, however it exits, the pipe closes and
//! the watcher stops PostgreSQL and deletes the directory.
//!
//! The server is tuned for tests (`fsync=off`, no synchronous commit): never point it
//! at data you want to keep. Connections over TCP need a random password that only
//! the returned URLs carry.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// What to tell a developer when the server binaries are missing.
const INSTALL_HINT: &str = "PostgreSQL server binaries are needed for the PostgreSQL \
     tests: install them with `apt-get install postgresql` (Debian/Ubuntu; the service \
     need not run), or set NOKKEL_TEST_PG_BIN to a directory holding initdb, pg_ctl and psql";

/// Why a PostgreSQL cluster could not be started or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgError(String);

impl std::error::Error for PgError {}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PgError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A running temporary PostgreSQL cluster.
pub struct PgCluster {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    password: String,
    /// The watcher's stdin; dropping it (or process exit) makes the watcher clean up.
    watcher_stdin: Mutex<Option<ChildStdin>>,
    watcher: Mutex<Child>,
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster")
            .field("root", &self.root)
            .field("port", &self.port)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

static SHARED: OnceLock<Result<PgCluster, PgError>> = OnceLock::new();
static DATABASE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl PgCluster {
    /// The cluster shared by every test of this test binary, started on first use.
    /// A failure is remembered: every later call returns the same error.
    pub fn shared() -> Result<&'static PgCluster, PgError> {
        SHARED
            .get_or_init(PgCluster::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A database URL on the shared cluster for a fresh, empty database.
    pub fn fresh_database_url() -> Result<String, PgError> {
        Self::shared()?.create_database()
    }

    /// Starts a new cluster in a temporary directory; blocks until it accepts
    /// connections (a second or two).
    pub fn start() -> Result<PgCluster, PgError> {
        let bin = find_bin_dir()?;
        let run_as_postgres = is_root()?;
        let root = tempfile::Builder::new()
            .prefix("nokkel-pg-")
            .tempdir()
            .map_err(|e| PgError::new(format!("cannot create a temporary directory: {e}")))?
            .keep();
        let result = Self::start_in(bin, root.clone(), run_as_postgres);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&root);
        }
        result
    }

    fn start_in(bin: PathBuf, root: PathBuf, run_as_postgres: bool) -> Result<PgCluster, PgError> {
        if run_as_postgres {
            chown_to_postgres(&root)?;
        }
        let data = root.join("data");
        let password = random_password()?;
        let pwfile = root.join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n"))
            .map_err(|e| PgError::new(format!("cannot write the password file: {e}")))?;
        if run_as_postgres {
            chown_to_postgres(&pwfile)?;
        }
        let mut initdb = as_owner(run_as_postgres, &bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--encoding=UTF8", "--locale=C", "--no-sync"]);
        run(initdb, "initdb")?;

        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port()?;
            match Self::launch(&bin, &root, &data, port, run_as_postgres) {
                Ok((watcher, stdin)) => {
                    return Ok(PgCluster {
                        bin,
                        root,
                        port,
                        password,
                        watcher_stdin: Mutex::new(Some(stdin)),
                        watcher: Mutex::new(watcher),
                    })
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| PgError::new("PostgreSQL did not start")))
    }

    /// Starts the server under a watcher shell and waits for its "ready" line.
    fn launch(
        bin: &Path,
        root: &Path,
        data: &Path,
        port: u16,
        run_as_postgres: bool,
    ) -> Result<(Child, ChildStdin), PgError> {
        let runner = if run_as_postgres {
            "runuser -u postgres --"
        } else {
            ""
        };
        let options = format!(
            "-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            root = root.display()
        );
        // INT is ignored so that Ctrl-C on the test run still lets the watcher clean up
        // once the test process is gone and the pipe closes.
        let script = format!(
            r#"trap '' INT
{runner} "$1/pg_ctl" -D "$2" -l "$3/server.log" -o "$4" -w -t 60 start >"$3/pg_ctl.log" 2>&1 || {{ echo failed; exit 1; }}
echo ready
cat >/dev/null
{runner} "$1/pg_ctl" -D "$2" -m immediate -w stop >/dev/null 2>&1
rm -rf "$3"
"#
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("nokkel-pg-watcher")
            .arg(bin)
            .arg(data)
            .arg(root)
            .arg(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| PgError::new(format!("cannot run sh: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| PgError::new("watcher has no stdout"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| PgError::new("watcher has no stdin"))?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| PgError::new(format!("cannot read from the watcher: {e}")))?;
        if line.trim() == "ready" {
            Ok((child, stdin))
        } else {
            let _ = child.wait();
            let log = std::fs::read_to_string(root.join("server.log")).unwrap_or_default();
            let ctl = std::fs::read_to_string(root.join("pg_ctl.log")).unwrap_or_default();
            Err(PgError::new(format!(
                "PostgreSQL did not start on port {port}:\n{ctl}\n{log}"
            )))
        }
    }

    /// The loopback TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the data directory, socket and logs.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A URL for `database` as the superuser `postgres` over TCP.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Creates a fresh, uniquely named, empty database and returns its URL.
    pub fn create_database(&self) -> Result<String, PgError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "t_{}_{}_{nanos}",
            std::process::id(),
            DATABASE_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        self.psql(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }

    /// Runs one SQL command as the superuser in the `postgres` database, over the
    /// Unix socket; returns psql's unaligned output.
    pub fn psql(&self, sql: &str) -> Result<String, PgError> {
        self.psql_in("postgres", sql)
    }

    /// Runs one SQL command as the superuser in `database`.
    pub fn psql_in(&self, database: &str, sql: &str) -> Result<String, PgError> {
        let mut command = Command::new(self.bin.join("psql"));
        command
            .arg("-h")
            .arg(&self.root)
            .arg("-p")
            .arg(self.port.to_string())
            .args([
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtX",
            ])
            .arg("-c")
            .arg(sql);
        run(command, "psql")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Closing the watcher's stdin makes it stop the server and remove the directory.
        if let Ok(mut stdin) = self.watcher_stdin.lock() {
            if let Some(mut pipe) = stdin.take() {
                let _ = pipe.flush();
            }
        }
        if let Ok(mut watcher) = self.watcher.lock() {
            let _ = watcher.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn find_bin_dir() -> Result<PathBuf, PgError> {
    if let Some(dir) = std::env::var_os("NOKKEL_TEST_PG_BIN") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
        return Err(PgError::new(format!(
            "NOKKEL_TEST_PG_BIN={} has no initdb. {INSTALL_HINT}",
            dir.display()
        )));
    }
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(base)
        .map_err(|_| PgError::new(format!("{} not found. {INSTALL_HINT}", base.display())))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        PgError::new(format!(
            "no initdb under {}. {INSTALL_HINT}",
            base.display()
        ))
    })
}

fn is_root() -> Result<bool, PgError> {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| PgError::new(format!("cannot run `id -u`: {e}")))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn chown_to_postgres(path: &Path) -> Result<(), PgError> {
    let status = Command::new("chown")
        .arg("postgres:")
        .arg(path)
        .status()
        .map_err(|e| PgError::new(format!("cannot run chown: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(PgError::new(
            "running as root, but cannot hand the temporary directory to the `postgres` \
             user (initdb refuses to run as root); install the postgresql package, which \
             creates that user",
        ))
    }
}

fn as_owner(run_as_postgres: bool, program: &Path) -> Command {
    if run_as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> Result<String, PgError> {
    let output = command
        .output()
        .map_err(|e| PgError::new(format!("cannot run {what}: {e}. {INSTALL_HINT}")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(PgError::new(format!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

fn free_port() -> Result<u16, PgError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| PgError::new(format!("cannot find a free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| PgError::new(format!("cannot find a free loopback port: {e}")))
}

fn random_password() -> Result<String, PgError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| PgError::new(format!("cannot read /dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
