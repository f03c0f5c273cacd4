#!/usr/bin/env python3
"""Checks the Grafana dashboards in deploy/grafana/dashboards, for `make test-alerts`:

- each has a stable `uid` and no `__inputs` (provisioned as files, never imported by hand);
- every panel and target names the provisioned Prometheus data source (uid `prometheus`);
- every target's PromQL compiles: Grafana's variables are replaced by what they stand for
  (`$service` by a regex, `$__rate_interval` by a range) and each expression becomes a
  recording rule of a scratch rules file that `promtool check rules` compiles.

    python3 scripts/check_dashboards.py PROMTOOL
"""

import json
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
DATASOURCE_UID = "prometheus"
VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$service": ".*"}


def substitute(expr):
    # Longest names first: `$__rate_interval` before any shorter variable it contains.
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    return expr


def main():
    promtool = sys.argv[1]
    failures = []
    rules = []
    uids = {}
    files = sorted(DASHBOARDS.glob("*.json"))
    if not files:
        failures.append(f"no dashboards in {DASHBOARDS}")
    for path in files:
        name = path.relative_to(ROOT)
        dashboard = json.loads(path.read_text())
        uid = dashboard.get("uid")
        if not uid or not re.fullmatch(r"[a-z0-9-]{1,40}", uid):
            failures.append(f"{name}: uid {uid!r} is not a stable lower-case id")
        elif uid in uids:
            failures.append(f"{name}: uid {uid} is also {uids[uid]}'s")
        uids[uid] = name
        if "__inputs" in dashboard:
            failures.append(f"{name}: has __inputs (an export for sharing, not a provisioned file)")
        for panel in dashboard.get("panels", []):
            where = f"{name} panel {panel.get('id')} ({panel.get('title')})"
            if (panel.get("datasource") or {}).get("uid") != DATASOURCE_UID:
                failures.append(f"{where}: data source is not uid {DATASOURCE_UID}")
            targets = panel.get("targets") or []
            if not targets:
                failures.append(f"{where}: no query")
            for target in targets:
                if (target.get("datasource") or {}).get("uid") != DATASOURCE_UID:
                    failures.append(f"{where} {target.get('refId')}: data source is not uid {DATASOURCE_UID}")
                expr = substitute(target.get("expr", ""))
                if "$" in expr:
                    failures.append(f"{where} {target.get('refId')}: unknown variable in {expr}")
                    continue
                record = f"dashboard:{uid}:panel_{panel.get('id')}_{target.get('refId')}".replace("-", "_")
                rules.append({"record": record, "expr": expr, "where": f"{where} {target.get('refId')}"})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as scratch:
        json.dump({"groups": [{"name": "dashboards", "rules": [
            {"record": rule["record"], "expr": rule["expr"]} for rule in rules]}]}, scratch)
    result = subprocess.run([promtool, "check", "rules", scratch.name], capture_output=True, text=True)
    pathlib.Path(scratch.name).unlink()
    if result.returncode != 0:
        failures.append("promtool check rules on the panels' PromQL:\n" + (result.stdout + result.stderr).strip())
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        sys.exit(1)
    print(f"dashboards: {len(files)} files, {len(rules)} queries compiled by promtool")


if __name__ == "__main__":
    main()
