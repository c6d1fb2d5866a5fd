# shellcheck shell=bash
# Shared environment for Slipway's scripts; sourced, not run.
# Keeps one build cache outside the work tree (CI clones afresh; the cache survives) and puts the
# project's npm tools and cargo-installed tools on PATH.

SLIPWAY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SLIPWAY_ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slipway/target}"
export PATH="$SLIPWAY_ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# cargo-leptos writes the site (wasm, JS, CSS) to target/site (Cargo.toml's site-root); the
# server reads it from SLIPWAY_SITE_ROOT.
export SLIPWAY_SITE_ROOT="${SLIPWAY_SITE_ROOT:-$SLIPWAY_ROOT/target/site}"
# Debian's Chromium, driven by playwright-core in end2end/.
export SLIPWAY_CHROMIUM="${SLIPWAY_CHROMIUM:-/usr/bin/chromium}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
