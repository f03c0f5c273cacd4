"""What the scripts that drive a running recommerce through its edge share: a free port, a
JSON call, a check of its status, a wait for a condition, and the first steps of a trade-in
(a phone, a quote, an order). Standard library only.
"""

import json
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta

SETTLE = 60


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(method, url, token=None, body=None, headers=None):
    """(status, JSON body); (None, None) when nothing answers."""
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
    except OSError:
        return None, None


def expect(status, wanted, what, body):
    if status != wanted:
        sys.exit(f"FAIL: {what}: expected {wanted}, got {status}: {body}")


def eventually(what, condition, seconds=SETTLE):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    sys.exit(f"FAIL: timed out waiting for {what}")


def first_phone(edge):
    """The first phone's model id, its first variant id, and an answer to each question."""
    status, devices = call("GET", f"{edge}/v1/devices?category=phone")
    expect(status, 200, "browse devices", devices)
    model = devices["items"][0]["id"]
    status, detail = call("GET", f"{edge}/v1/devices/{model}")
    expect(status, 200, "device detail", detail)
    answers = [
        {"question_id": question["id"], "option_id": question["options"][0]["id"]}
        for question in detail["questionnaire"]["questions"]
    ]
    return model, detail["variants"][0]["id"], answers


def create_quote(edge, shopper_token, variant, answers):
    status, quote = call(
        "POST", f"{edge}/v1/quotes", shopper_token,
        {"variant_id": variant, "answers": answers, "pincode": "560001"},
    )
    expect(status, 201, "create a quote with the shopper token", quote)
    return quote["id"]


def place_order(edge, shopper_token, quote_id):
    """Places an order for tomorrow morning in 560001 under a fresh Idempotency-Key; its id."""
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    status, order = call(
        "POST", f"{edge}/v1/orders", shopper_token,
        {
            "quote_id": quote_id,
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
    return order["id"]
