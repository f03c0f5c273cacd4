"""`make bench-memory`: resident memory of `recommerce dev` (what `make run` starts) idle,
through a mixed trade-in load at a fixed rate (`recommerce load`, 10 minutes by default),
and a minute after the load stops. Writes benchmarks/memory.md.

The figures are the whole process: five services, the edge and the embedded broker, on
their SQLite files. The process is measured from /proc (VmRSS, sampled every 2 s).
"""

import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.environ.get("RECOMMERCE_BIN", "target/debug/recommerce")
RATE = int(os.environ.get("MEMORY_BENCH_RATE", "30"))
SECONDS = int(os.environ.get("MEMORY_BENCH_SECONDS", "600"))
AFTER = 60
OUT = "benchmarks/memory.md"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    sys.exit(f"timed out waiting for {what}")


def ready(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def machine():
    cores = os.cpu_count()
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cores} cores ({model}), {platform.system().lower()}"


def main():
    work = tempfile.mkdtemp(prefix="recommerce-memory-")
    data = os.path.join(work, "data")
    ports = {name: free_port() for name in ["EDGE", "CATALOG", "QUOTE", "ORDER", "FULFILMENT", "PORTAL", "REPORTING"]}
    env = dict(os.environ)
    for name, port in ports.items():
        env[f"RECOMMERCE_{name}_PORT"] = str(port)
    for name in ["RECOMMERCE_REDIS_URL", "KAFKA_BROKERS", "RECOMMERCE_POSTGRES_URL"]:
        env.pop(name, None)
    log = open(os.path.join(work, "dev.log"), "w")
    dev = subprocess.Popen([BIN, "dev", "--data-dir", data], env=env, stdout=log, stderr=log)
    try:
        announcement = os.path.join(data, "dev.json")
        wait_for(lambda: os.path.exists(announcement), 180, "recommerce dev to start")
        with open(announcement) as file:
            dev_json = json.load(file)
        edge = dev_json["edge"]
        wait_for(lambda: ready(f"{edge}/health/ready"), 60, "the edge to be ready")
        time.sleep(10)
        idle = rss_mib(dev.pid)

        token_env = dict(os.environ, APP_PROFILE="dev")
        shoppers = [
            subprocess.run([BIN, "token", "--role", "shopper"], env=token_env, check=True,
                           capture_output=True, text=True).stdout.strip()
            for _ in range(20)
        ]
        report = os.path.join(work, "load.json")
        tokens = dev_json["tokens"]
        load = subprocess.Popen(
            [BIN, "load", "--url", edge, "--rate", str(RATE), "--duration", f"{SECONDS}s",
             "--shopper-token", ",".join(shoppers),
             "--partner-token", tokens["logistics_partner"],
             "--admin-token", tokens["admin"], "--json", report],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        peak = idle
        while load.poll() is None:
            peak = max(peak, rss_mib(dev.pid))
            time.sleep(2)
        at_end = rss_mib(dev.pid)
        after = at_end
        for _ in range(AFTER // 2):
            time.sleep(2)
            after = rss_mib(dev.pid)
        with open(report) as file:
            overall = json.load(file)["steps"][0]["overall"]
    finally:
        dev.send_signal(signal.SIGTERM)
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            dev.kill()
        log.close()

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    latency = overall["latency_ms"]
    lines = [
        "## Memory of `recommerce dev`",
        "",
        "Command: `make bench-memory` (`python3 scripts/dev_memory.py`).",
        "",
        f"- date: {date}",
        f"- machine: {machine()}",
        f"- setup: `recommerce dev` as `make run` starts it (debug build, SQLite, embedded broker), "
        f"then `recommerce load` at {RATE} operations/s for {SECONDS} s with the default mix plus "
        "partner and admin operations, 20 shopper tokens; resident memory (VmRSS) of the dev "
        "process sampled every 2 s",
        "",
        "| moment | resident MiB | vs idle |",
        "|---|---:|---:|",
        f"| idle, 10 s after ready | {idle:.0f} | 1.00× |",
        f"| peak during the load | {peak:.0f} | {peak / idle:.2f}× |",
        f"| when the load stopped | {at_end:.0f} | {at_end / idle:.2f}× |",
        f"| {AFTER} s after the load stopped | {after:.0f} | {after / idle:.2f}× |",
        "",
        f"The load: {overall['operations']} operations, {overall['succeeded']} succeeded, "
        f"{overall['errors']} failed; p50 {latency['p50']} ms, p99 {latency['p99']} ms.",
    ]
    with open(OUT, "w") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
