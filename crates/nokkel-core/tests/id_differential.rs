//! Differential test: `IdNumber::parse` against two independent implementations.
//!
//! - NAV's `@navikt/fnrvalidator` (npm, 2.2.1): validity and kind, including D-, H- and
//!   synthetic (`tnr`) numbers and the 2032 check-digit rule. It does not derive centuries.
//! - `python-stdnum` (`stdnum.no.fodselsnummer`, 2.2): classic check digits and the birth date
//!   with the century taken from the individual number. It knows neither the 2032 rule nor
//!   synthetic numbers, so it is compared only where it applies.
//!
//! Inputs (seeded, so a failure reproduces): 100,000 random 11-digit strings, 100,000
//! numbers from `IdNumber::generate` (every kind, birth dates 1854–2039), and 100,000 near
//! misses derived from generated numbers (2032-rule variants, single-digit changes,
//! adjacent swaps, other day/month markers). The deliberate differences are documented in
//! docs/IDENTITY-NUMBERS.md and are the only ones allowed here.
//!
//! Oracles: `npm ci --prefix crates/nokkel-core/tests/oracle` and
//! `pip install python-stdnum==2.2` (scripts/setup.sh does both).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use nokkel_core::id_number::{CheckRule, IdKind, IdNumber, IdNumberError, SyntheticPolicy};
use rand::{rngs::StdRng, Rng, SeedableRng};
use time::{Date, Duration};

const PER_SET: usize = 100_000;
const SEED: u64 = 0x4e6f_6b6b_656c; // "Nokkel"

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle")
}

fn random_digits(rng: &mut StdRng) -> String {
    (0..11)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn random_date(rng: &mut StdRng) -> Date {
    let first = Date::from_calendar_date(1854, time::Month::January, 1).unwrap();
    let last = Date::from_calendar_date(2039, time::Month::December, 31).unwrap();
    let span = (last - first).whole_days();
    first + Duration::days(rng.gen_range(0..=span))
}

fn generated(rng: &mut StdRng) -> IdNumber {
    let kind = IdKind::ALL[rng.gen_range(0..IdKind::ALL.len())];
    IdNumber::generate(random_date(rng), kind, rng)
}

const W1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const W2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// Rewrites the check digits so that S1 mod 11 is `rest` (and S2 ≡ 0), if possible.
fn with_rest(digits: &mut [u8; 11], rest: u32) -> bool {
    let p1: u32 = digits[..9]
        .iter()
        .zip(W1)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let k1 = (11 + rest - p1 % 11) % 11;
    if k1 == 10 {
        return false;
    }
    digits[9] = k1 as u8;
    let p2: u32 = digits[..10]
        .iter()
        .zip(W2)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let k2 = (11 - p2 % 11) % 11;
    if k2 == 10 {
        return false;
    }
    digits[10] = k2 as u8;
    true
}

/// A number close to a valid one: the cases where validators are most likely to disagree.
fn near_miss(rng: &mut StdRng) -> String {
    let base = generated(rng);
    let mut d: [u8; 11] = base.as_str().as_bytes().try_into().unwrap();
    for x in &mut d {
        *x -= b'0';
    }
    match rng.gen_range(0..5) {
        // Same date and individual number under the 2032 rule (or outside both rules).
        0 => {
            let rest = rng.gen_range(0..=4);
            if !with_rest(&mut d, rest) {
                d[10] = (d[10] + 1) % 10;
            }
        }
        // One digit changed.
        1 => {
            let i = rng.gen_range(0..11);
            d[i] = (d[i] + rng.gen_range(1..10)) % 10;
        }
        // Two adjacent digits swapped.
        2 => {
            let i = rng.gen_range(0..10);
            d.swap(i, i + 1);
        }
        // Another marker on the day or month digit (D+H, FH, month + 20/60, ...), with
        // check digits repaired so only the date decides.
        3 => {
            let i = if rng.gen_bool(0.5) { 0 } else { 2 };
            d[i] = rng.gen_range(0..10);
            let rest = rng.gen_range(0..=3);
            if !with_rest(&mut d, rest) {
                d[8] = (d[8] + 1) % 10;
                with_rest(&mut d, 0);
            }
        }
        // 29 February in every century variant, with repaired check digits.
        _ => {
            d[0] = if rng.gen_bool(0.5) { 2 } else { 6 };
            d[1] = 9;
            d[2] = [0, 4, 8][rng.gen_range(0..3)];
            d[3] = 2;
            d[4] = rng.gen_range(0..10);
            d[5] = rng.gen_range(0..10);
            if rng.gen_bool(0.5) {
                d[5] = [0, 4, 8][rng.gen_range(0..3)];
                d[4] = 2 * rng.gen_range(0..5);
            }
            let rest = if rng.gen_bool(0.7) {
                0
            } else {
                rng.gen_range(1..=3)
            };
            if !with_rest(&mut d, rest) {
                d[8] = (d[8] + 1) % 10;
                with_rest(&mut d, rest);
            }
        }
    }
    d.iter().map(|&x| char::from(b'0' + x)).collect()
}

fn inputs() -> Vec<(&'static str, String)> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut all = Vec::with_capacity(3 * PER_SET + 10);
    for _ in 0..PER_SET {
        all.push(("random", random_digits(&mut rng)));
    }
    for _ in 0..PER_SET {
        all.push(("generated", generated(&mut rng).as_str().to_owned()));
    }
    for _ in 0..PER_SET {
        all.push(("near-miss", near_miss(&mut rng)));
    }
    // Hand-picked: the reference example, 29.02.00 with individual 000–499 (1900 was no
    // leap year), and a D+H combination (accepted by fnrvalidator, rejected by us).
    for s in ["31129956715", "29020012119", "29020075838", "41428512160"] {
        all.push(("fixed", s.to_owned()));
    }
    all
}

fn run_oracle(program: &str, script: &str, input_file: &Path, install: &str) -> Vec<String> {
    let output = Command::new(program)
        .arg(oracle_dir().join(script))
        .arg(input_file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}); the differential test needs it: {install}")
        });
    assert!(
        output.status.success(),
        "oracle {script} failed ({}): {}\nInstall it with: {install}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_inputs(name: &str, inputs: &[(&str, String)]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut text = String::with_capacity(inputs.len() * 12);
    for (_, s) in inputs {
        text.push_str(s);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Our verdict in fnrvalidator's vocabulary.
fn ours_as_fnrvalidator(input: &str) -> String {
    match IdNumber::parse(input, SyntheticPolicy::Accept) {
        Ok(n) => match n.kind() {
            IdKind::Fnr => "valid fnr".into(),
            IdKind::Dnr => "valid dnr".into(),
            IdKind::Hnr => "valid hnr".into(),
            IdKind::Synthetic => "valid tnr".into(),
            IdKind::SyntheticDnr => "valid dnr-and-tnr".into(),
        },
        Err(_) => "invalid".into(),
    }
}

/// 29.02.00 (with any D or H marker) and individual number 000–499, which the classic
/// century table would place in 1900, a year without 29 February.
fn is_29_feb_1900(input: &str) -> bool {
    let field = |r: std::ops::Range<usize>| input[r].parse::<u32>().unwrap();
    field(0..2) % 40 == 29 && field(2..4) % 40 == 2 && field(4..6) == 0 && field(6..9) < 500
}

/// Fails with up to 20 examples if any mismatch was collected.
fn report(oracle: &str, mismatches: &[String], stats: &BTreeMap<String, usize>) {
    println!("{oracle}: {stats:?}");
    assert!(
        mismatches.is_empty(),
        "{} disagreements with {oracle} (seed {SEED:#x}), first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn agrees_with_navikt_fnrvalidator() {
    let inputs = inputs();
    let file = write_inputs("id-differential-fnrvalidator.txt", &inputs);
    let theirs = run_oracle(
        "node",
        "fnrvalidator-oracle.js",
        &file,
        "apt-get install nodejs npm && npm ci --prefix crates/nokkel-core/tests/oracle",
    );
    assert_eq!(
        theirs.len(),
        inputs.len(),
        "oracle output has one line per input"
    );

    let mut stats = BTreeMap::new();
    let mut mismatches = Vec::new();
    for ((set, input), theirs) in inputs.iter().zip(&theirs) {
        let ours = ours_as_fnrvalidator(input);
        *stats.entry(format!("{set}: {ours}")).or_insert(0) += 1;
        // Our own policy check rides along: Reject accepts exactly the non-synthetic ones.
        let strict = IdNumber::parse(input, SyntheticPolicy::Reject);
        let synthetic = ours.ends_with("tnr");
        match (&strict, ours.starts_with("valid")) {
            (Ok(_), true) if !synthetic => {}
            (Err(IdNumberError::SyntheticNotAllowed), true) if synthetic => {}
            (Err(_), false) => {}
            _ => mismatches.push(format!(
                "{input}: policy Reject gave {strict:?}, Accept {ours}"
            )),
        }
        if &ours == theirs {
            continue;
        }
        // Deliberate difference 1: day + 40 together with month + 40 (fnrvalidator's
        // "dnr-and-hnr") is not a kind in use; we reject it as an impossible date.
        let dnr_and_hnr = theirs == "valid dnr-and-hnr"
            && ours == "invalid"
            && IdNumber::parse(input, SyntheticPolicy::Accept)
                == Err(IdNumberError::ImpossibleDate);
        if dnr_and_hnr {
            *stats.entry("difference: dnr-and-hnr".into()).or_insert(0) += 1;
            continue;
        }
        mismatches.push(format!(
            "{set} {input}: ours {ours:?}, fnrvalidator {theirs:?}"
        ));
    }
    // Every set must exercise what it is for, or the agreement above proves little.
    for key in [
        "generated: valid fnr",
        "generated: valid dnr",
        "generated: valid hnr",
        "generated: valid tnr",
        "generated: valid dnr-and-tnr",
        "near-miss: invalid",
        "random: invalid",
    ] {
        assert!(
            stats.get(key).copied().unwrap_or(0) > 1000,
            "too few {key}: {stats:?}"
        );
    }
    let rule_2032 = inputs
        .iter()
        .filter_map(|(_, s)| IdNumber::parse(s, SyntheticPolicy::Accept).ok())
        .filter(|n| n.rule() == CheckRule::Rule2032)
        .count();
    assert!(rule_2032 > 10_000, "only {rule_2032} 2032-rule numbers");
    assert!(stats.get("difference: dnr-and-hnr").copied().unwrap_or(0) > 0);
    report("fnrvalidator", &mismatches, &stats);
}

#[test]
fn agrees_with_python_stdnum_on_check_digits_and_birth_dates() {
    let inputs = inputs();
    let file = write_inputs("id-differential-stdnum.txt", &inputs);
    let theirs = run_oracle(
        "python3",
        "stdnum_oracle.py",
        &file,
        "pip install python-stdnum==2.2 (scripts/setup.sh installs it into its venv)",
    );
    assert_eq!(
        theirs.len(),
        inputs.len(),
        "oracle output has one line per input"
    );

    let mut stats = BTreeMap::new();
    let mut mismatches = Vec::new();
    for ((set, input), theirs) in inputs.iter().zip(&theirs) {
        let mut fields = theirs.split(' ');
        let (c1, c2, date) = (fields.next(), fields.next(), fields.next().unwrap_or("?"));
        let classic = c1 == Some("1") && c2 == Some("1");
        let mut disagree =
            |why: &str| mismatches.push(format!("{set} {input}: {why}; stdnum {theirs:?}"));
        match IdNumber::parse(input, SyntheticPolicy::Accept) {
            Ok(n) => {
                if (n.rule() == CheckRule::Classic) != classic {
                    disagree(&format!("our rule {:?}", n.rule()));
                    continue;
                }
                // stdnum derives no dates for 2032-rule or synthetic numbers.
                if n.rule() != CheckRule::Classic || n.kind().is_synthetic() {
                    continue;
                }
                let ours = n.birth_date().map(|d| d.to_string());
                let agree = match (&ours, date) {
                    (Some(d), theirs) => d == theirs,
                    (None, "century") => true,
                    // 29.02.00 with individual 000–499: stdnum reads 1900 and finds no such
                    // day; we accept the number without a birth date (deliberate difference 2).
                    (None, "invalid") => is_29_feb_1900(input),
                    (None, _) => false,
                };
                *stats
                    .entry(format!("{set}: birth date compared"))
                    .or_insert(0) += 1;
                if !agree {
                    disagree(&format!("our birth date {ours:?}"));
                }
            }
            Err(IdNumberError::CheckDigit) => {
                // Neither rule holds, so the classic one cannot.
                if classic {
                    disagree("we report check_digit");
                }
            }
            Err(IdNumberError::ImpossibleDate) => {
                // stdnum finds a date only where its looser day/month handling accepts a
                // D+H combination (day + 40 and month + 40), which we reject.
                let dh = (4..=7).contains(&(input.as_bytes()[0] - b'0'))
                    && (4..=5).contains(&(input.as_bytes()[2] - b'0'));
                if date.len() == 10 && !dh {
                    disagree("we report impossible_date");
                }
            }
            Err(e) => disagree(&format!("unexpected {e:?}")),
        }
    }
    // Generated numbers are 60 % non-synthetic, all classic: about 60,000 dates to compare.
    let generated = stats
        .get("generated: birth date compared")
        .copied()
        .unwrap_or(0);
    assert!(
        generated > 50_000,
        "too few birth dates compared: {stats:?}"
    );
    report("python-stdnum", &mismatches, &stats);
}
