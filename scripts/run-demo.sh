#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs the Nøkkel server with demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
cargo build --release --locked -p nokkel-cli
exec "$CARGO_TARGET_DIR/release/nokkel" "$@"
