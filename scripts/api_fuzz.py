"""`make test-api`: the OpenAPI documents hold, checked against the running platform.

1. Starts `recommerce dev` (what `make run` starts: SQLite, embedded broker) on free ports.
2. Trades a device in through the edge so that real ids exist: a model and variant, a quote,
   an order, its pickup job, a partner, a webhook, a partner user, a pricing adjustment.
3. Validates each service's `/openapi.json` and the edge's merged one against OpenAPI 3.1.
4. Runs schemathesis (pinned, in a venv) against each service: every check, the examples,
   coverage, fuzzing and stateful phases, a fixed seed and a time budget per service, with
   the seeded ids offered for `{id}` half of the time and each route called with a token of
   a role it serves. Any 5xx, dropped connection or conformance failure fails the step.

Prints one line of counts per service. Python dependencies go to
${CARGO_TARGET_DIR:-target}/api-fuzz-venv on first use (the script re-runs itself there).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from edge_client import call, create_quote, eventually, expect, first_phone, free_port, place_order

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ["schemathesis==4.32.5", "openapi-spec-validator==0.9.0"]
IN_VENV_MARKER = "RECOMMERCE_API_FUZZ_VENV"
SEED = int(os.environ.get("API_FUZZ_SEED", "20261130"))
SECONDS_PER_SERVICE = int(os.environ.get("API_FUZZ_SECONDS", "60"))

# Each route is called with a token of a role it serves; `ignored_auth` also calls it with none.
# (service, path regex, persona); the patterns of one service do not overlap.
TOKENS = [
    ("quote", r"^/v1/quotes/\{id\}/(lock|requote)$", "admin"),
    ("quote", r"^/v1/quotes(/\{id\})?$", "shopper"),
    ("order", r"^/v1/orders", "shopper"),
    ("partner-portal", r"^/v1/portal/admin/", "admin"),
    ("partner-portal", r"^/v1/portal/(?!admin/)", "logistics_partner"),
    ("*", r"^/v1/admin/", "admin"),
]

# Which seeded ids each service's `{id}` takes, by path regex (not overlapping).
IDS = {
    "catalog": [
        (r"^/v1/(devices|admin/catalog)/variants/\{id\}$", "variant"),
        (r"^/v1/(devices|admin/catalog/models)/\{id\}", "model"),
    ],
    "quote": [
        (r"^/v1/admin/pricing/adjustments/\{id\}$", "adjustment"),
        (r"^/v1/quotes/\{id\}", "quote"),
    ],
    "order": [(r"^/v1/(admin/)?orders/\{id\}", "order")],
    "fulfilment": [
        (r"^/v1/admin/partners/\{id\}", "partner"),
        (r"^/v1/admin/jobs/\{id\}", "job"),
    ],
    "partner-portal": [
        (r"/webhooks/deliveries/\{id\}", "delivery"),
        (r"^/v1/portal/webhooks/\{id\}$", "webhook"),
        (r"/users/\{id\}", "user"),
        (r"/jobs/\{id\}", "job"),
    ],
    # Only the dead-letter routes take an id; random ones answer 404.
    "reporting": [],
}

# Requests the schema allows and the service refuses, by design: rules across fields, over
# time or over stored data, which a JSON Schema cannot state. Each operation's description
# states the rule; `positive_data_acceptance` takes these statuses as well there.
# (service, method, path, statuses, why)
SEMANTIC_REFUSALS = [
    ("catalog", "POST", "/v1/admin/catalog/models", [422],
     "variant names must be unique within a model, ignoring case"),
    ("catalog", "PUT", "/v1/admin/catalog/questionnaires/{category}", [422],
     "question and option keys must be unique within their list"),
    ("quote", "POST", "/v1/quotes", [422],
     "answers must be one per question of the device's current questionnaire"),
    ("quote", "POST", "/v1/quotes/{id}/requote", [422],
     "answers must be one per question of the device's current questionnaire"),
    ("quote", "POST", "/v1/admin/pricing/adjustments", [422],
     "ends_at after starts_at; for scope `category` the value must be a category"),
    ("order", "GET", "/v1/admin/orders", [400], "created_from must not be after created_to"),
    ("order", "POST", "/v1/orders", [422],
     "the slot date is from today to 60 days ahead; payout details depend on the method"),
    ("fulfilment", "POST", "/v1/admin/jobs/{id}/assign", [422],
     "the partner must be active, of the job's kind, serve its pincode and have capacity"),
    ("partner-portal", "POST", "/v1/portal/webhooks", [422],
     "the target must resolve to a public address (and be https in production)"),
    ("partner-portal", "POST", "/v1/portal/jobs/{id}/inspection-report", [422],
     "answers must be one per question of the device's questionnaire"),
] + [
    ("reporting", "GET", f"/v1/admin/reports/{report}", [400],
     "from must not be after to, and a report covers at most 366 days")
    for report in ["summary", "daily", "daily.csv", "partners", "partners.csv"]
]
# Checks that do not apply to an operation, by design. (service, path regex, check, why)
CHECKS_OFF = [
    ("catalog", r"^/v1/admin/catalog/models/\{id\}$", "use_after_free",
     "DELETE retires a model: admins still read it, with status `retired`, because quotes "
     "and orders name it (the public /v1/devices/{id} answers 404)"),
]
POSITIVE_DEFAULT = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


# --- the venv ------------------------------------------------------------------------------------


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def bootstrap():
    """Re-runs this script in a venv that has the pinned dependencies."""
    try:
        import openapi_spec_validator  # noqa: F401  (imported to see that it is there)
        import schemathesis  # noqa: F401

        if schemathesis.__version__ == REQUIREMENTS[0].split("==")[1]:
            return
    except ImportError:
        pass
    if os.environ.get(IN_VENV_MARKER):
        sys.exit(f"api_fuzz: the venv at {sys.prefix} still lacks its dependencies; delete it and retry")
    venv = target_dir() / "api-fuzz-venv"
    python = venv / "bin" / "python"
    stamp = venv / "api-fuzz-requirements.txt"
    installed = stamp.read_text().split() if stamp.exists() else []
    if not python.exists() or installed != REQUIREMENTS:
        print(f"api_fuzz: installing {', '.join(REQUIREMENTS)} into {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS]
        if subprocess.run(pip).returncode != 0:
            sys.exit("api_fuzz: installing schemathesis failed (see pip's output above)")
        stamp.write_text("\n".join(REQUIREMENTS) + "\n")
    os.environ[IN_VENV_MARKER] = "1"
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


# --- the dev run ---------------------------------------------------------------------------------


def start_dev(work):
    binary = os.environ.get("RECOMMERCE_BIN", str(target_dir() / "debug" / "recommerce"))
    data = os.path.join(work, "data")
    env = dict(os.environ)
    for name in ["EDGE", "CATALOG", "QUOTE", "ORDER", "FULFILMENT", "PORTAL", "REPORTING"]:
        env[f"RECOMMERCE_{name}_PORT"] = str(free_port())
    for name in ["RECOMMERCE_REDIS_URL", "KAFKA_BROKERS", "RECOMMERCE_POSTGRES_URL"]:
        env.pop(name, None)
    log = open(os.path.join(work, "dev.log"), "w")
    dev = subprocess.Popen([binary, "dev", "--data-dir", data], env=env, stdout=log, stderr=log)
    announcement = os.path.join(data, "dev.json")
    try:
        eventually("recommerce dev to start", lambda: dev.poll() is not None or os.path.exists(announcement))
        if dev.poll() is not None:
            sys.exit(f"api_fuzz: recommerce dev exited with {dev.returncode}; see {log.name}")
        time.sleep(0.5)
        with open(announcement) as file:
            dev_json = json.load(file)
        eventually("the edge to be ready", lambda: call("GET", f"{dev_json['edge']}/health/ready")[0] == 200)
    except BaseException:
        stop(dev)
        raise
    return dev, dev_json, log


def stop(dev):
    dev.send_signal(signal.SIGINT)
    try:
        dev.wait(timeout=60)
    except subprocess.TimeoutExpired:
        dev.kill()
        dev.wait()


def seed(edge, tokens):
    """A trade-in and the back office's objects; returns the ids by kind."""
    ids = {}
    ids["model"], ids["variant"], answers = first_phone(edge)
    quotes = [create_quote(edge, tokens["shopper"], ids["variant"], answers) for _ in range(2)]
    ids["quote"] = quotes[1]
    ids["order"] = place_order(edge, tokens["shopper"], quotes[0])

    def pickup_job():
        status, jobs = call("GET", f"{edge}/v1/portal/jobs?per_page=100", tokens["logistics_partner"])
        expect(status, 200, "the logistics partner's jobs", jobs)
        return next((job for job in jobs["items"] if job["order_id"] == ids["order"]), None)

    job = eventually("the pickup job in the portal", pickup_job)
    ids["job"], ids["partner"] = job["id"], job.get("partner_id")
    if not ids["partner"]:
        status, partners = call("GET", f"{edge}/v1/admin/partners?kind=logistics", tokens["admin"])
        expect(status, 200, "the partners", partners)
        ids["partner"] = partners["items"][0]["id"]
    status, webhook = call(
        "POST", f"{edge}/v1/portal/webhooks", tokens["logistics_partner"],
        {"url": "https://hooks.example.com/recommerce"},
    )
    expect(status, 201, "register a webhook", webhook)
    ids["webhook"] = webhook["id"]
    status, user = call(
        "POST", f"{edge}/v1/portal/admin/users", tokens["admin"],
        {"partner_id": ids["partner"], "email": "dispatch@example.com", "name": "Dispatch desk"},
    )
    expect(status, 201, "create a partner user", user)
    ids["user"] = user["id"]
    status, adjustment = call(
        "POST", f"{edge}/v1/admin/pricing/adjustments", tokens["admin"],
        {"scope": "brand", "value": "Apple", "percent_basis_points": 500,
         "starts_at": "2026-01-01T00:00:00Z", "label": "Festival bonus"},
    )
    expect(status, 201, "create a pricing adjustment", adjustment)
    ids["adjustment"] = adjustment["id"]
    status, deliveries = call("GET", f"{edge}/v1/portal/admin/webhooks/deliveries", tokens["admin"])
    expect(status, 200, "the webhook deliveries", deliveries)
    items = deliveries.get("items", []) if isinstance(deliveries, dict) else []
    ids["delivery"] = items[0]["id"] if items else str(uuid.uuid4())
    return ids


# --- the checks ----------------------------------------------------------------------------------


def validate_documents(dev_json):
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    documents = {service["name"]: f"{service['url']}/openapi.json" for service in dev_json["services"]}
    documents["edge (merged)"] = f"{dev_json['edge']}/openapi.json"
    failed = []
    for name, url in documents.items():
        status, document = call("GET", url)
        expect(status, 200, f"{name}'s document", document)
        if document.get("openapi") != "3.1.0":
            failed.append(f"{name}: not OpenAPI 3.1.0 but {document.get('openapi')}")
            continue
        try:
            validate(document)
            print(f"  {name}: valid OpenAPI 3.1 ({len(document['paths'])} paths)")
        except OpenAPIValidationError as error:
            failed.append(f"{name}: {error}")
    if failed:
        sys.exit("api_fuzz: invalid documents:\n" + "\n".join(failed))


def toml_string(value):
    return json.dumps(value)


def config_for(service, url, tokens, ids):
    """schemathesis.toml for one service."""
    lines = [
        f"seed = {SEED}",
        f"max-time = {SECONDS_PER_SERVICE}",
        # One worker: schemathesis 4.32 has raced on its own caches with two (a KeyError
        # inside the coverage phase), and the machine has two cores for the service too.
        "workers = 1",
        "request-timeout = 10.0",
        "continue-on-failure = true",
        "suppress-health-check = [\"too_slow\", \"filter_too_much\"]",
        f"base-url = {toml_string(url)}",
        "[checks]",
        "enabled = true",
        "[phases.examples]",
        "enabled = true",
        "[phases.coverage]",
        "enabled = true",
        "[phases.fuzzing]",
        "enabled = true",
        "[phases.stateful]",
        "enabled = true",
        "max-steps = 20",
        # Chains of calls with valid data. A negative step there can come out valid once the
        # token and the linked values are filled in, and is then reported as a schema-violating
        # request accepted; invalid data is the three other phases' job.
        "generation.mode = \"positive\"",
        "[output.sanitization]",
        "enabled = false",
    ]
    names = sorted({kind for _, kind in IDS[service]})
    for kind in names:
        lines += [f"[dictionaries.{kind}]", f"values = [{toml_string(ids[kind])}]"]
    routes = []
    for owner, pattern, persona in TOKENS:
        if owner in (service, "*"):
            routes.append((pattern, persona))
    # schemathesis merges the blocks that match an operation: its token, its ids and its
    # refusals by design each come from one block.
    for pattern, persona in routes:
        lines += [
            "[[operations]]",
            f"include-path-regex = {toml_string(pattern)}",
            f"headers = {{ Authorization = {toml_string('Bearer ' + tokens[persona])} }}",
        ]
    for owner, method, path, statuses, _why in SEMANTIC_REFUSALS:
        if owner != service:
            continue
        expected = POSITIVE_DEFAULT + [str(status) for status in statuses]
        lines += [
            "[[operations]]",
            f"include-path = {toml_string(path)}",
            f"include-method = {toml_string(method)}",
            f"checks.positive_data_acceptance.expected-statuses = {json.dumps(expected)}",
        ]
    for owner, pattern, check, _why in CHECKS_OFF:
        if owner == service:
            lines += [
                "[[operations]]",
                f"include-path-regex = {toml_string(pattern)}",
                f"checks.{check}.enabled = false",
            ]
    for pattern, kind in IDS[service]:
        lines += [
            "[[operations]]",
            f"include-path-regex = {toml_string(pattern)}",
            f'parameters = {{ "path.id" = {{ dictionary = {toml_string(kind)}, probability = 0.5 }} }}',
        ]
    return "\n".join(lines) + "\n"


def run_schemathesis(service, url, tokens, ids, work):
    directory = Path(work) / service
    directory.mkdir()
    config = directory / "schemathesis.toml"
    config.write_text(config_for(service, url, tokens, ids))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(config), "--no-color",
        "run", f"{url}/openapi.json",
        "--report", "junit", "--report-junit-path", str(directory / "junit.xml"),
    ]
    print(f"\n== {service}: schemathesis, {SECONDS_PER_SERVICE} s, seed {SEED}", flush=True)
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    counts = "no counts printed"
    for line in process.stdout:
        print(line, end="", flush=True)
        if " generated, " in line:
            counts = line.strip()
    process.wait()
    return process.returncode, time.monotonic() - started, counts


def main():
    bootstrap()
    binary = os.environ.get("RECOMMERCE_BIN")
    if not binary:
        subprocess.run(["cargo", "build", "-q", "-p", "recommerce"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="recommerce-api-fuzz-")
    dev, dev_json, log = start_dev(work)
    results = []
    try:
        tokens = dev_json["tokens"]
        ids = seed(dev_json["edge"], tokens)
        print("api_fuzz: seeded " + ", ".join(f"{kind} {value}" for kind, value in sorted(ids.items())))
        print("api_fuzz: documents")
        validate_documents(dev_json)
        only = os.environ.get("API_FUZZ_ONLY")
        for service in dev_json["services"]:
            if only and service["name"] not in only.split(","):
                continue
            code, seconds, counts = run_schemathesis(service["name"], service["url"], tokens, ids, work)
            results.append((service["name"], code, seconds, counts))
            if dev.poll() is not None:
                sys.exit(f"api_fuzz: recommerce dev died during {service['name']}; see {log.name}")
    finally:
        stop(dev)
        log.close()
    print("\napi_fuzz: | service | exit | seconds | test cases |")
    for name, code, seconds, counts in results:
        print(f"api_fuzz: | {name} | {code} | {seconds:.0f} | {counts} |")
    failed = [name for name, code, _, _ in results if code != 0]
    if failed:
        sys.exit(f"api_fuzz: schemathesis found failures in {', '.join(failed)}; reports under {work}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
