#!/usr/bin/env bash
# The event schemas stay compatible: `buf lint` and `buf breaking` (WIRE_JSON, proto/buf.yaml)
# of proto/ against the committed baseline image, then a check of the check itself: a copy of
# proto/ with one field of OrderConfirmed renumbered and one removed must be refused.
#
# After a deliberate, versioned change (a new event type or package), refresh the baseline in
# a commit of its own: contract-tests/proto/node_modules/.bin/buf build proto -o contract-tests/proto/baseline.binpb
set -euo pipefail
cd "$(dirname "$0")/.."

(cd contract-tests/proto && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
buf=contract-tests/proto/node_modules/.bin/buf
baseline=contract-tests/proto/baseline.binpb

"$buf" lint proto
"$buf" breaking proto --against "$baseline"
echo "check_protos: buf lint and buf breaking (WIRE_JSON) against $baseline: clean"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r proto "$scratch/proto"
order="$scratch/proto/recommerce/order/v1/order.proto"
sed -i -e '/^message OrderConfirmed {/,/^}/ s/string quote_id = 3;/string quote_id = 7;/' \
       -e '/^message OrderConfirmed {/,/^}/ { /PickupDetails pickup = 6;/d }' "$order"
if "$buf" breaking "$scratch/proto" --against "$baseline" >"$scratch/out" 2>&1; then
  echo "check_protos: FAIL: a renumbered and a removed field of OrderConfirmed passed buf breaking" >&2
  exit 1
fi
for expected in 'field "3" with name "quote_id" on message "OrderConfirmed" was deleted' \
                'field "6" with name "pickup" on message "OrderConfirmed" was deleted'; do
  if ! grep -qF "$expected" "$scratch/out"; then
    echo "check_protos: FAIL: buf breaking did not say: $expected" >&2
    cat "$scratch/out" >&2
    exit 1
  fi
done
echo "check_protos: a renumbered and a removed OrderConfirmed field are refused:"
sed 's/^/  /' "$scratch/out"
