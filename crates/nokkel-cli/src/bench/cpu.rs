//! CPU time of a process (user + system, all threads) from `/proc/PID/stat`.

use std::time::Duration;

/// Which process to read.
#[derive(Debug, Clone, Copy)]
pub enum Process {
    /// This process: the load generator.
    This,
    /// Another process, e.g. the server under test.
    Pid(u32),
}

/// Clock ticks per second of the `utime`/`stime` fields.
#[derive(Debug, Clone, Copy)]
pub struct Ticks(u64);

impl Ticks {
    /// `getconf CLK_TCK`, read once (the workspace forbids the `unsafe` a direct
    /// `sysconf` call needs); 100, Linux's value on every common platform, if that fails.
    pub fn per_second() -> Ticks {
        let read = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
            .filter(|&ticks| ticks > 0);
        Ticks(read.unwrap_or(100))
    }
}

/// The process's CPU time so far (user + system).
pub fn cpu_time(process: Process, ticks: Ticks) -> anyhow::Result<Duration> {
    let path = match process {
        Process::This => "/proc/self/stat".to_owned(),
        Process::Pid(pid) => format!("/proc/{pid}/stat"),
    };
    let stat = std::fs::read_to_string(&path)
        .map_err(|err| anyhow::anyhow!("cannot read {path}: {err}"))?;
    parse_stat(&stat, ticks).ok_or_else(|| anyhow::anyhow!("{path} has an unexpected format"))
}

/// `utime` and `stime` are fields 14 and 15 (proc(5)); the command name before them is
/// in parentheses and may itself contain spaces and parentheses, so count from the last
/// `)`.
fn parse_stat(stat: &str, ticks: Ticks) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let total = utime + stime;
    Some(
        Duration::from_secs(total / ticks.0)
            + Duration::from_nanos(total % ticks.0 * 1_000_000_000 / ticks.0),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_after_an_awkward_command_name() {
        let stat =
            "4242 (nok kel) (x)) S 1 4242 4242 0 -1 4194304 1000 0 0 0 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(
            parse_stat(stat, Ticks(100)),
            Some(Duration::from_millis(3000))
        );
    }

    #[test]
    fn this_process_cpu_time_grows_while_it_computes() {
        let ticks = Ticks::per_second();
        let before = cpu_time(Process::This, ticks).unwrap();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_time(Process::This, ticks).unwrap() <= before {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no CPU time counted"
            );
        }
    }
}
