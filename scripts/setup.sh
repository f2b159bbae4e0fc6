#!/usr/bin/env bash
# Installs everything Nøkkel needs to build, run and test on Debian 12. Idempotent and
# non-interactive: safe to run on every build. Used by run-demo.sh and test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# Debian packages: build tools, the Tauri/WebKit stack, browsers and drivers for the
# end-to-end tests, PostgreSQL for the second store backend, a D-Bus session and
# gnome-keyring for the Secret Service vault test, poppler-utils (pdftotext, pdftoppm)
# for the letter tests, dunst (a notification server) and xdotool (X input focus) for the
# app's notification test.
APT_PACKAGES=(
  build-essential pkg-config curl ca-certificates git
  python3 python3-venv python3-pip
  nodejs npm
  postgresql
  libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
  webkit2gtk-driver xvfb xauth dbus dbus-x11 gnome-keyring libsecret-tools
  chromium chromium-driver imagemagick poppler-utils
  dunst xdotool
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# node and npm may come from elsewhere (e.g. NodeSource); only ask apt when absent.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for pkg in "${missing[@]}"; do [[ $pkg == nodejs || $pkg == npm ]] || filtered+=("$pkg"); done
  missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  if [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    log "Rust is missing: installing the stable toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# Python packages for the independent (differential) checks, in a venv of our own so the
# system Python stays untouched.
VENV="${NOKKEL_TEST_VENV:-$HOME/.cache/nokkel/venv}"
if [[ ! -x $VENV/bin/python ]]; then
  log "creating Python venv in $VENV"
  python3 -m venv "$VENV"
fi
req_hash=$(cat scripts/requirements-test.txt | sha256sum | cut -c1-16)
if [[ ! -f $VENV/.req-$req_hash ]]; then
  log "installing Python test packages"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-test.txt
  touch "$VENV/.req-$req_hash"
fi

# npm packages for the test oracles, the app UI and the browser tests.
for dir in $(git ls-files '*package-lock.json' | xargs -r -n1 dirname); do
  stamp="$dir/node_modules/.nokkel-lock-$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
  if [[ ! -f $stamp ]]; then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
done
