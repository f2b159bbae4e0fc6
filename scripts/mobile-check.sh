#!/usr/bin/env bash
# Type-checks and lints the Android and the iOS code of nokkel-client and the app on this
# Linux host (issue 13). There is no phone toolchain here: NOKKEL_MOBILE_CHECK=android|ios
# makes the two crates' build scripts set the cfg `nokkel_mobile_check`, which compiles
# their phone modules against the real crates where those build on Linux (the Android
# keyring store, jni) and against small signature shims for what exists only on a phone
# (src-tauri/src/mobile/plugin_shim.rs, crates/nokkel-client/src/mobile/apple_shim.rs).
#
# The cfg comes from build scripts, not RUSTFLAGS, so the dependencies are not rebuilt:
# only nokkel-client and nokkel-app are checked again, in the shared CARGO_TARGET_DIR.
#
# Usage: scripts/mobile-check.sh [android|ios]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

variants=("$@")
[[ ${#variants[@]} -gt 0 ]] || variants=(android ios)
for variant in "${variants[@]}"; do
  case $variant in android | ios) ;; *) echo "unknown variant: $variant" >&2; exit 2 ;; esac
  printf '\n== mobile check: %s (cargo check, cargo clippy -D warnings)\n' "$variant" >&2
  NOKKEL_MOBILE_CHECK=$variant cargo check --locked -p nokkel-client -p nokkel-app \
    --features nokkel-app/mobile-check --all-targets
  NOKKEL_MOBILE_CHECK=$variant cargo clippy --locked -p nokkel-client -p nokkel-app \
    --features nokkel-app/mobile-check --all-targets -- -D warnings
done
