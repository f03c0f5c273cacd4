#!/usr/bin/env bash
# Each API test creates its own PostgreSQL database (test_<service>_<uuid>); drop the ones
# earlier runs left behind so they do not pile up on a developer's machine.
set -euo pipefail
url="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
command -v psql >/dev/null 2>&1 || exit 0
databases=$(psql "$url" -Atc "select datname from pg_database where datname like 'test\_%'" 2>/dev/null || true)
for database in $databases; do
  psql "$url" -qc "drop database if exists \"$database\" with (force)" >/dev/null 2>&1 || true
done
