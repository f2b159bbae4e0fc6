# Sourced by the scripts: shared build cache outside the clone and the test venv on PATH.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/nokkel-target}"
export NOKKEL_TEST_VENV="${NOKKEL_TEST_VENV:-$HOME/.cache/nokkel/venv}"
export PATH="$NOKKEL_TEST_VENV/bin:$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
