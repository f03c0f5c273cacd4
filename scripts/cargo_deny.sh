#!/usr/bin/env bash
# `make lint`'s supply-chain check: `cargo deny check` with deny.toml (advisories, licences,
# duplicate versions and bans, sources). Installs cargo-deny when it is missing (crates.io).
#
# The advisory database is fetched from GitHub. On a machine that cannot reach it, a copy
# fetched earlier is used (`--offline`), and without one the advisories are reported as NOT
# checked, loudly, while the other three checks still run and must pass: an unreachable
# database must not stop the build, and must not pass for a clean audit either.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
  echo "installing cargo-deny $CARGO_DENY_VERSION"
  cargo install --locked --quiet "cargo-deny@$CARGO_DENY_VERSION"
fi

# --offline below reads every crate of every target from the local registry: fetch them all
# first (crates.io is reachable where GitHub may not be), not only the host's.
cargo fetch --locked --quiet

databases="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if cargo deny --log-level error fetch db >/dev/null 2>&1; then
  cargo deny check --hide-inclusion-graph
elif compgen -G "$databases/advisory-db-*/.git" >/dev/null; then
  echo "cargo deny: the advisory database cannot be fetched; checking against the copy in $databases" \
    "($(git -C "$(ls -d "$databases"/advisory-db-* | head -n 1)" log -1 --format=%cs))"
  cargo deny --offline check --hide-inclusion-graph
else
  echo "cargo deny: ADVISORIES NOT CHECKED: the advisory database cannot be fetched and no copy" \
    "is in $databases. Run 'cargo deny fetch' where GitHub is reachable." >&2
  cargo deny --offline check --hide-inclusion-graph bans licenses sources
fi
