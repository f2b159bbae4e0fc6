#!/usr/bin/env bash
# Measures complete app-approved logins over real sockets: builds the release binary,
# starts `nokkel serve --demo` in its own process with a fresh data directory, prepares
# synthetic people, and runs `nokkel bench --url` at each concurrency given (default
# 1 8 64). Extra `nokkel serve` flags (e.g. --database-url postgres://…) go in
# BENCH_SERVE_ARGS; --seconds in BENCH_SECONDS (default 10); BENCH_JSON=1 for JSON.
# (Not NOKKEL_*: the server refuses configuration keys it does not know.)
#
#   scripts/bench-url.sh            # SQLite, 1, 8 and 64 logins in flight
#   scripts/bench-url.sh 8          # only 8
#   BENCH_SERVE_ARGS="--database-url postgres://…" scripts/bench-url.sh   # an empty database
#
# Each run enrols its people afresh (the state file lives in the run's temporary
# directory), so a PostgreSQL database must be new for every run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --locked -p nokkel-cli
nokkel="$CARGO_TARGET_DIR/release/nokkel"
concurrencies=("${@:-1 8 64}")
seconds="${BENCH_SECONDS:-10}"
port="${BENCH_PORT:-18080}"
work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# 64 in flight need 64 people; a few spare.
"$nokkel" admin population generate --count 80 --seed 1 > "$work/people.csv"
# shellcheck disable=SC2086
"$nokkel" admin population import "$work/people.csv" --data-dir "$work/data" ${BENCH_SERVE_ARGS:-} > /dev/null
# Bench people log in far more often than people do, all from one address: lift the
# login brakes (per person, per person and address, per address, identity numbers,
# authorization requests) and the cap on event streams open per address (64 in flight
# hold 64 at once).
# shellcheck disable=SC2086
NOKKEL_LOGINS_PER_PERSON_PER_10_MIN=4000000000 \
NOKKEL_LOGINS_PER_PERSON_AND_ADDRESS_PER_10_MIN=4000000000 \
NOKKEL_LOGINS_PER_ADDRESS_PER_10_MIN=4000000000 \
NOKKEL_LOGIN_IDS_PER_ADDRESS_PER_10_MIN=4000000000 \
NOKKEL_AUTHORIZATIONS_PER_ADDRESS_PER_10_MIN=4000000000 \
NOKKEL_AUTHORIZATIONS_PER_10_MIN=4000000000 \
NOKKEL_EVENT_STREAMS_PER_ADDRESS=100000 RUST_LOG=warn \
    "$nokkel" serve --demo --listen "127.0.0.1:$port" --data-dir "$work/data" ${BENCH_SERVE_ARGS:-} > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    grep -q "running at" "$work/serve.log" && break
    sleep 0.1
done
grep -q "running at" "$work/serve.log" || { cat "$work/serve.log"; exit 1; }

for c in ${concurrencies[*]}; do
    echo "== $c in flight =="
    "$nokkel" bench --url "http://127.0.0.1:$port" --population "$work/people.csv" \
        --concurrency "$c" --seconds "$seconds" --warmup 2 \
        --server-pid "$server" ${BENCH_JSON:+--json}
done
