# The README's two commands are `make run` and `make test`; everything else is a helper.

CARGO ?= cargo
CARGO_TARGET_DIR_OR_DEFAULT := $(or $(CARGO_TARGET_DIR),target)
# nextest runs each test in its own process; plain `cargo test` is the fallback.
TEST_RUNNER := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run" || echo test)

.PHONY: run test lint test-postgres test-sqlite test-faults check-deploy test-alerts test-api test-contracts test-fresh-clone bench bench-catalog bench-backbone bench-group bench-order bench-memory bench-backlog bench-reporting benchmarks-file build migrate seed token clean-test-databases

## The whole platform on embedded defaults (SQLite under ./data, embedded broker, seed data):
## the edge on http://127.0.0.1:8080, every service's docs and metrics, and four tokens.
run:
	$(CARGO) build -p recommerce
	$(CARGO_TARGET_DIR_OR_DEFAULT)/debug/recommerce dev

## Everything CI checks: formatting, lints, `cargo deny` (deny.toml), all tests on PostgreSQL, the database-facing suites
## again on SQLite, the compose file and k8s overlays, and `make run` in a fresh clone.
test: lint clean-test-databases test-postgres test-sqlite test-faults check-deploy test-alerts test-api test-contracts test-fresh-clone

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	bash scripts/cargo_deny.sh

# nextest keeps its JUnit report under the workspace's target/, whatever CARGO_TARGET_DIR says.
test-postgres:
	TEST_DATABASE=postgres $(CARGO) $(TEST_RUNNER) --workspace
	@python3 scripts/slowest_tests.py target/nextest/default/junit.xml 10

# With nextest the suites are picked from the whole workspace's build, the one test-postgres
# made: naming packages instead would unify features differently and compile them again.
ifeq ($(TEST_RUNNER),nextest run)
SQLITE_SUITES := --workspace -E 'binary_id(catalog::api) | binary_id(platform::backbone) | binary_id(order::api) | binary_id(quote-service::api) | binary_id(fulfilment::api) | binary_id(partner-portal::api) | binary_id(reporting::api)'
FAULT_SUITE := --workspace -E 'binary_id(recommerce::faults)'
else
SQLITE_SUITES := -p catalog --test api -p platform --test backbone -p order --test api -p quote-service --test api -p fulfilment --test api -p partner-portal --test api
FAULT_SUITE := -p recommerce --test faults
endif

test-sqlite:
	TEST_DATABASE=sqlite $(CARGO) $(TEST_RUNNER) $(SQLITE_SUITES)
	@python3 scripts/slowest_tests.py target/nextest/default/junit.xml 10

## Renders and schema-validates both k8s overlays, checks docker-compose.yml, and runs
## `recommerce config check` on every component's environment (Python deps go to a venv).
check-deploy:
	$(CARGO) build -p recommerce
	RECOMMERCE_BIN=$(CARGO_TARGET_DIR_OR_DEFAULT)/debug/recommerce python3 scripts/check_deploy.py

## The crash suite: five `recommerce serve` processes, `recommerce broker` and a private Redis
## through SIGKILLs, an outage, a frozen broker and a Redis restart; prints its invariant table.
test-faults:
	TEST_DATABASE=postgres $(CARGO) $(TEST_RUNNER) $(FAULT_SUITE) --run-ignored ignored-only --no-capture

## The alert rules compile and pass their unit tests (k8s/base/alerts/tests/) under promtool,
## taken from Debian's prometheus package when it is not on PATH; every dashboard's PromQL compiles.
test-alerts:
	bash scripts/alert_rules_check.sh

## Every service's OpenAPI document and the edge's merged one validated against OpenAPI 3.1, then
## schemathesis (pinned, in a venv) against each service of a seeded `recommerce dev`: all checks,
## all phases, a fixed seed, 60 s per service. Fails on any 5xx or conformance failure.
test-api:
	$(CARGO) build -p recommerce
	RECOMMERCE_BIN=$(CARGO_TARGET_DIR_OR_DEFAULT)/debug/recommerce python3 scripts/api_fuzz.py

## The event schemas: `buf lint` and `buf breaking` against contract-tests/proto/baseline.binpb
## (buf from npm, pinned), and a check that a broken .proto is caught. The OpenAPI snapshots
## are a workspace test (contract-tests/tests/openapi_snapshots.rs), run by test-postgres.
test-contracts:
	bash contract-tests/check_protos.sh

## Clones the repository into a temp dir, runs `make run` there, and trades a device in through the edge.
test-fresh-clone:
	python3 scripts/fresh_clone_check.py

## All benchmarks; each prints ratios to a baseline measured in the same run. Rewrites BENCHMARKS.md.
bench: bench-catalog bench-backbone bench-group bench-order bench-memory bench-backlog bench-reporting

bench-catalog:
	$(CARGO) bench -p recommerce --bench browse > benchmarks/catalog.md.new
	mv benchmarks/catalog.md.new benchmarks/catalog.md
	@$(MAKE) --no-print-directory benchmarks-file

bench-backbone:
	$(CARGO) bench -p platform --bench backbone > benchmarks/backbone.md.new
	mv benchmarks/backbone.md.new benchmarks/backbone.md
	@$(MAKE) --no-print-directory benchmarks-file

## The stall of a consumer group after `kill -9` of one of two instances (about 5 minutes).
bench-group:
	TEST_DATABASE=postgres $(CARGO) bench -p platform --bench group_recovery > benchmarks/group.md.new
	mv benchmarks/group.md.new benchmarks/group.md
	@$(MAKE) --no-print-directory benchmarks-file

bench-order:
	TEST_DATABASE=postgres $(CARGO) bench -p system-tests --bench order_accept > benchmarks/order.md.new
	mv benchmarks/order.md.new benchmarks/order.md
	@$(MAKE) --no-print-directory benchmarks-file

## Resident memory of `recommerce dev` idle, through 10 minutes of mixed load, and after it.
bench-memory:
	$(CARGO) build -p recommerce
	RECOMMERCE_BIN=$(CARGO_TARGET_DIR_OR_DEFAULT)/debug/recommerce python3 scripts/dev_memory.py
	@$(MAKE) --no-print-directory benchmarks-file

## The order service draining 50,000 fulfilment events over 5,000 orders while accepting orders:
## drain time, resident memory against its idle figure, pool timeouts, accept latency.
bench-backlog:
	$(CARGO) bench -p recommerce --bench order_backlog > benchmarks/backlog.md.new
	mv benchmarks/backlog.md.new benchmarks/backlog.md
	@$(MAKE) --no-print-directory benchmarks-file

## The reports' lag behind a burst of 1000 trade-ins (3000 events), against a bare consumer.
bench-reporting:
	TEST_DATABASE=postgres $(CARGO) bench -p reporting --bench projection > benchmarks/reporting.md.new
	mv benchmarks/reporting.md.new benchmarks/reporting.md
	@$(MAKE) --no-print-directory benchmarks-file

benchmarks-file:
	@{ printf '# Benchmarks\n\nWritten by `make bench` from the sections in `benchmarks/`; re-run a benchmark rather than editing figures.\n\n'; \
	   for section in benchmarks/*.md; do cat "$$section"; printf '\n'; done; } > BENCHMARKS.md
	@cat BENCHMARKS.md

build:
	$(CARGO) build --workspace

migrate:
	$(CARGO) run -q -p recommerce -- migrate

seed:
	$(CARGO) run -q -p recommerce -- seed

## make token ROLE=partner PARTNER=<uuid>  (dev secret; set APP_AUTH__JWT_SECRET for another)
token:
	APP_PROFILE=$${APP_PROFILE:-dev} $(CARGO) run -q -p recommerce -- token --role $(or $(ROLE),admin) $(if $(PARTNER),--partner $(PARTNER))

clean-test-databases:
	@bash scripts/drop-test-databases.sh
