#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every check and test Nøkkel has.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (SQLite and PostgreSQL)"
cargo test --workspace --locked

step "browser tests (Playwright + Debian Chromium, axe-core WCAG 2.1 AA)"
cargo build --locked -p nokkel-cli
NOKKEL_TEST_BIN="$CARGO_TARGET_DIR/debug/nokkel" npm test --prefix tests/browser
