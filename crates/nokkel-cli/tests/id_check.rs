//! `nokkel id check`, run as the built binary: JSON output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn nokkel(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nokkel"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn single(args: &[&str]) -> (Value, i32) {
    let out = nokkel(args, None);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout:?}");
    (
        serde_json::from_str(&stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn valid_fnr_prints_details_and_exits_0() {
    let (report, code) = single(&["id", "check", "31129956715"]);
    assert_eq!(code, 0);
    assert_eq!(
        report,
        json!({"input": "31129956715", "valid": true, "kind": "fnr",
               "birth_date": "1899-12-31", "rule": "classic", "error": null})
    );
}

#[test]
fn field_order_is_stable() {
    let out = nokkel(&["id", "check", "31129956715"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    let positions: Vec<usize> = [
        "\"input\"",
        "\"valid\"",
        "\"kind\"",
        "\"birth_date\"",
        "\"rule\"",
        "\"error\"",
    ]
    .iter()
    .map(|key| text.find(key).unwrap())
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn invalid_numbers_exit_1_with_an_error_code() {
    for (input, error) in [
        ("31129956716", "check_digit"),
        ("3112995671", "length"),
        ("3112995671x", "non_digit"),
        ("32129956715", "impossible_date"),
    ] {
        let (report, code) = single(&["id", "check", input]);
        assert_eq!(code, 1, "{input}");
        assert_eq!(
            report,
            json!({"input": input, "valid": false, "kind": null,
                   "birth_date": null, "rule": null, "error": error}),
            "{input}"
        );
    }
}

#[test]
fn synthetic_numbers_need_the_flag() {
    // 01.02.1985 (month + 80), individual number 123: a classic synthetic number.
    let synthetic = "01828512311";
    let (report, code) = single(&["id", "check", synthetic]);
    assert_eq!(code, 1);
    assert_eq!(report["error"], "synthetic_not_allowed");

    let (report, code) = single(&["id", "check", synthetic, "--allow-synthetic"]);
    assert_eq!(code, 0);
    assert_eq!(
        report,
        json!({"input": synthetic, "valid": true, "kind": "synthetic",
               "birth_date": "1985-02-01", "rule": "classic", "error": null})
    );
}

#[test]
fn rule_2032_numbers_have_no_birth_date() {
    // 31.12.99, individual 567, k1 chosen so S1 mod 11 = 1, k2 by the usual rule.
    let (report, code) = single(&["id", "check", "31129956723"]);
    assert_eq!(code, 0);
    assert_eq!(report["rule"], "2032");
    assert_eq!(report["kind"], "fnr");
    assert_eq!(report["birth_date"], Value::Null);
}

#[test]
fn spaced_input_is_echoed_as_given() {
    let (report, code) = single(&["id", "check", "311299 56715"]);
    assert_eq!(code, 0);
    assert_eq!(report["input"], "311299 56715");
}

#[test]
fn stdin_mode_prints_one_line_per_input_and_exits_0() {
    let input = "31129956715\n31129956716\r\n\n01828512311\nabc\n";
    let out = nokkel(&["id", "check", "-"], Some(input));
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(String, bool, Value)> = lines
        .iter()
        .map(|r| {
            (
                r["input"].as_str().unwrap().to_owned(),
                r["valid"].as_bool().unwrap(),
                r["error"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("31129956715".into(), true, Value::Null),
            ("31129956716".into(), false, json!("check_digit")),
            ("".into(), false, json!("length")),
            ("01828512311".into(), false, json!("synthetic_not_allowed")),
            ("abc".into(), false, json!("non_digit")),
        ]
    );

    let out = nokkel(
        &["id", "check", "-", "--allow-synthetic"],
        Some("01828512311"),
    );
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kind"], "synthetic");
}

#[test]
fn stdin_mode_survives_invalid_utf8() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nokkel"))
        .args(["id", "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"3112995\xff715\n31129956715\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["error"], "non_digit");
    assert_eq!(lines[1]["valid"], true);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["id", "check"][..],
        &["id", "check", "31129956715", "--no-such-flag"],
        &["id", "check", "1", "2"],
        &["id"],
    ] {
        let out = nokkel(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}
