#!/usr/bin/env python3
"""The fresh-clone check: clone this repository into a temp dir, run the README's first
command (`make run`) there, and drive a trade-in through the printed edge URL with the
printed tokens: quote -> order -> the logistics partner sees and accepts the pickup job ->
the order reaches `pickup_scheduled`. Then Ctrl-C must stop everything cleanly.

Ports come from RECOMMERCE_*_PORT so the check never collides with a developer's own run;
CARGO_TARGET_DIR is shared so the clone reuses compiled dependencies. Standard library only.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_DEADLINE = 20 * 60
SETTLE = 60


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(method, url, token=None, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def expect(status, wanted, what, body):
    if status != wanted:
        raise SystemExit(f"FAIL: {what}: expected {wanted}, got {status}: {body}")


def eventually(what, condition):
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"FAIL: timed out waiting for {what}")


def read_banner(process, lines):
    """Collects stdout lines until the banner is complete; returns the edge URL and tokens."""
    deadline = time.monotonic() + BUILD_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None and not lines:
            raise SystemExit(f"FAIL: `make run` exited with {process.returncode}")
        if any("Stop with Ctrl-C." in line for line in list(lines)):
            break
        time.sleep(0.2)
    else:
        raise SystemExit("FAIL: `make run` printed no banner in time")
    text = "\n".join(lines)
    edge = re.search(r"Edge \(all APIs\):\s+(\S+)", text).group(1)
    tokens = {
        who: re.search(rf"^\s+{who}\s+(\S+)$", text, re.M).group(1)
        for who in ("shopper", "logistics partner", "repair partner", "admin")
    }
    ready = re.search(r"ready in ([\d.]+) s", text).group(1)
    return edge, tokens, ready


def trade_in(edge, tokens):
    status, devices = call("GET", f"{edge}/v1/devices?category=phone")
    expect(status, 200, "browse devices", devices)
    device_id = devices["items"][0]["id"]
    status, detail = call("GET", f"{edge}/v1/devices/{device_id}")
    expect(status, 200, "device detail", detail)
    answers = [
        {"question_id": question["id"], "option_id": question["options"][0]["id"]}
        for question in detail["questionnaire"]["questions"]
    ]
    status, quote = call(
        "POST",
        f"{edge}/v1/quotes",
        tokens["shopper"],
        {"variant_id": detail["variants"][0]["id"], "answers": answers, "pincode": "560001"},
    )
    expect(status, 201, "create a quote with the shopper token", quote)
    print(f"  quote {quote['id']}")

    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    status, order = call(
        "POST",
        f"{edge}/v1/orders",
        tokens["shopper"],
        {
            "quote_id": quote["id"],
            "pickup": {
                "address": "12 MG Road, Bengaluru",
                "pincode": "560001",
                "slot": {"date": tomorrow, "window": "morning"},
            },
            "payout": {"method": "upi", "details": {"vpa": "asha@okbank"}},
        },
        {"Idempotency-Key": str(uuid.uuid4())},
    )
    expect(status, 202, "place the order", order)
    order_id = order["id"]
    print(f"  order {order_id} accepted (202)")

    def offered_job():
        status, jobs = call("GET", f"{edge}/v1/portal/jobs?per_page=100", tokens["logistics partner"])
        expect(status, 200, "the logistics partner's job list", jobs)
        return next(
            (job for job in jobs["items"] if job["order_id"] == order_id and job["kind"] == "pickup"),
            None,
        )

    job = eventually("the pickup job in the logistics partner's portal list", offered_job)
    print(f"  job {job['id']} in the logistics partner's list ({job['status']})")
    job = eventually("the job to be offered", lambda: (lambda j: j if j["status"] == "offered" else None)(offered_job()))
    status, body = call("POST", f"{edge}/v1/portal/jobs/{job['id']}/accept", tokens["logistics partner"], {})
    expect(status, 202, "the logistics partner accepts the job", body)

    def order_status():
        status, body = call("GET", f"{edge}/v1/orders/{order_id}", tokens["shopper"])
        expect(status, 200, "the shopper's order", body)
        return body["status"]

    eventually("the order to reach pickup_scheduled", lambda: order_status() == "pickup_scheduled")
    print("  order reached pickup_scheduled")
    status, body = call("GET", f"{edge}/v1/nowhere")
    expect(status, 404, "an unrouted path", body)
    if body.get("code") != "route_not_found":
        raise SystemExit(f"FAIL: unrouted path answered {body}")


def dev_memory(group):
    """VmRSS and VmHWM (peak) in MiB of the `recommerce` process in process group `group`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as comm:
                name = comm.read().strip()
            if int(fields[2]) != group or name != "recommerce":
                continue
            with open(f"/proc/{entry}/status") as status:
                values = dict(line.split(":", 1) for line in status if ":" in line)
            mib = lambda key: int(values[key].split()[0]) / 1024
            return mib("VmRSS"), mib("VmHWM")
        except (OSError, ValueError, KeyError, IndexError):
            continue
    return None


# The services' default grace period (http.shutdown_grace_seconds, 25 s) and a margin for
# the process to exit: a stop past it is one an orchestrator would have killed.
STOP_LIMIT_SECONDS = 30


def main():
    workdir = tempfile.mkdtemp(prefix="recommerce-fresh-clone-")
    clone = os.path.join(workdir, "recommerce")
    subprocess.run(["git", "clone", "-q", ROOT, clone], check=True)
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for name in ("EDGE", "CATALOG", "QUOTE", "ORDER", "FULFILMENT", "PORTAL"):
        env[f"RECOMMERCE_{name}_PORT"] = str(free_port())
    for key in [key for key in env if key.startswith("APP_")]:
        del env[key]
    print(f"fresh clone in {clone}; running `make run`")
    started = time.monotonic()
    process = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines = []

    def pump():
        for line in process.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        edge, tokens, ready = read_banner(process, lines)
        print(f"  `make run` ready after {time.monotonic() - started:.0f} s (build included; "
              f"the platform itself in {ready} s); edge {edge}")
        trade_in(edge, tokens)
        memory = dev_memory(process.pid)
        if memory:
            print(f"  memory of `recommerce dev` after the trade-in: RSS {memory[0]:.0f} MiB "
                  f"(peak {memory[1]:.0f} MiB)")
    finally:
        stopping = time.monotonic()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=STOP_LIMIT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise SystemExit(
                f"FAIL: the dev run did not stop within {STOP_LIMIT_SECONDS} s of Ctrl-C")
        print(f"  `recommerce dev` stopped {time.monotonic() - stopping:.1f} s after Ctrl-C")
        reader.join(timeout=5)
    if not any("recommerce dev stopped" in line for line in lines):
        raise SystemExit("FAIL: Ctrl-C did not stop the dev run cleanly:\n" + "\n".join(lines[-20:]))
    print("fresh-clone check passed")


if __name__ == "__main__":
    sys.exit(main())
