#!/usr/bin/env python3
"""The fresh-clone check: clone this repository into a temp dir, run the README's first
command (`make run`) there, and drive a trade-in through the printed edge URL with the
printed tokens: quote -> order -> the logistics partner sees and accepts the pickup job ->
the order reaches `pickup_scheduled`. Then Ctrl-C must stop everything cleanly.

Ports come from RECOMMERCE_*_PORT so the check never collides with a developer's own run;
CARGO_TARGET_DIR is shared so the clone reuses compiled dependencies. Standard library only.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

from edge_client import call, create_quote, eventually, expect, first_phone, free_port, place_order

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_DEADLINE = 20 * 60


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
    _, variant, answers = first_phone(edge)
    quote_id = create_quote(edge, tokens["shopper"], variant, answers)
    print(f"  quote {quote_id}")
    order_id = place_order(edge, tokens["shopper"], quote_id)
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
    for name in ("EDGE", "CATALOG", "QUOTE", "ORDER", "FULFILMENT", "PORTAL", "REPORTING"):
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
