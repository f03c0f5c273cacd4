#!/usr/bin/env bash
# `make test-alerts`: the alert rules compile (`promtool check rules`) and behave as their unit
# tests say (`promtool test rules`, k8s/base/alerts/tests/), and every Grafana dashboard's
# PromQL compiles (scripts/check_dashboards.py). promtool comes from PATH or, when
# it is not there, from Debian's `prometheus` package, unpacked under target/tools without
# installing the package (no daemon is started, nothing else is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${CARGO_TARGET_DIR:-target}/tools"
promtool="$(command -v promtool || true)"
if [[ -z "$promtool" ]]; then
  promtool="$tools/prometheus/usr/bin/promtool"
  if [[ ! -x "$promtool" ]]; then
    mkdir -p "$tools/deb"
    if ! (cd "$tools/deb" && apt-get download prometheus >/dev/null 2>&1); then
      apt-get update -q >/dev/null
      (cd "$tools/deb" && apt-get download prometheus >/dev/null)
    fi
    dpkg-deb -x "$(ls "$tools"/deb/prometheus_*.deb | head -n 1)" "$tools/prometheus"
  fi
fi
promtool="$(realpath "$promtool")"
"$promtool" --version 2>&1 | head -n 1

"$promtool" check rules k8s/base/alerts/recommerce-alerts.yml
for tests in k8s/base/alerts/tests/*.test.yml; do
  (cd "$(dirname "$tests")" && "$promtool" test rules "$(basename "$tests")")
done
python3 scripts/check_dashboards.py "$promtool"
