#!/usr/bin/env python3
"""Test double of someone else's service: an SMS aggregator's HTTPS endpoint.

Nøkkel hands SMS to an aggregator over HTTP. This peer stands in for that aggregator in
the Rust delivery tests and implements the contract Nøkkel's sender is written to (to be
documented for operators in docs/OPERATIONS.md):

    POST /sms
    Content-Type: application/json
    Idempotency-Key: <key>
    X-Nokkel-Timestamp: <unix seconds, decimal>
    X-Nokkel-Signature: v1=<lowercase hex HMAC-SHA256(secret, timestamp + "." + raw body)>

    {"id": "<= Idempotency-Key>", "to": "+4791234567", "text": "...",
     "encoding": "gsm7" | "ucs2", "segments": 1, "purpose": "login_otp"}

    401  bad or missing signature, or timestamp further than 300 s from now
    400  body not JSON, a field missing or of the wrong type, `to` not E.164,
         `id` different from Idempotency-Key
    200  {"status": "duplicate"}  an id already accepted (not stored again)
    202  {"status": "accepted"}   stored

The peer works out independently whether the text fits GSM 03.38 7-bit and how many
segments it takes, and stores that next to what the sender declared.

Control endpoints on the same port, for the tests:

    GET  /_peer/messages  {"received", "duplicates", "rejected", "failed", "messages": [...]}
    POST /_peer/mode      {"fail_status": 503 | null, "delay_ms": 0}  (either key optional)

`received` counts every POST /sms whose signature verified (duplicates and 400s
included), `rejected` the 401 and 400 answers, `failed` the answers given in fail mode.
In fail mode every POST /sms gets `fail_status` without being looked at or stored. A
delay is served after the message is stored and before the answer, so a test can stop
the sender while it waits: the message counts as delivered, and a resend is a duplicate.

Usage: sms_peer.py --secret SECRET [--port 0] [--fail-status N] [--delay-ms N]
Binds 127.0.0.1, prints one line {"port": N} to stdout when ready, logs to stderr.
HTTP only: the tests point the sender at http://127.0.0.1:N.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import math
import re
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("sms_peer")

MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ENCODINGS = ("gsm7", "ucs2")
STRING_FIELDS = ("id", "to", "text", "purpose")

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + one
# septet, so two each). Form feed is in the extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def gsm7_septets(text: str) -> int | None:
    """Septets the text takes in GSM 03.38 7-bit, or None if it is not encodable."""
    septets = 0
    for ch in text:
        if ch == "\x1b":  # the escape itself is not a character one can send
            return None
        if ch in GSM7_BASIC:
            septets += 1
        elif ch in GSM7_EXTENSION:
            septets += 2
        else:
            return None
    return septets


def segment_text(text: str) -> tuple[str, int]:
    """(encoding, segments): GSM-7 160 single / 153 concatenated, UCS-2 70 / 67 units."""
    septets = gsm7_septets(text)
    if septets is not None:
        return "gsm7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "ucs2", 1 if units <= 70 else math.ceil(units / 67)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Nokkel-Signature value for a request (used by the self-test too)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


class Rejected(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


class PeerState:
    """Everything the peer has seen; shared between the request threads."""

    def __init__(self, secret: str, fail_status: int | None, delay_ms: int) -> None:
        self.secret = secret
        self.fail_status = fail_status
        self.delay_ms = delay_ms
        self.lock = threading.Lock()
        self.received = 0
        self.duplicates = 0
        self.rejected = 0
        self.failed = 0
        self.messages: list[dict[str, Any]] = []
        self.ids: set[str] = set()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "received": self.received,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "failed": self.failed,
                "messages": [dict(m) for m in self.messages],
            }


def check_signature(state: PeerState, headers: Any, body: bytes) -> None:
    timestamp = headers.get("X-Nokkel-Timestamp")
    signature = headers.get("X-Nokkel-Signature")
    if timestamp is None or signature is None:
        raise Rejected(401, "unsigned", "X-Nokkel-Timestamp and X-Nokkel-Signature are required")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise Rejected(401, "bad_timestamp", "the timestamp must be decimal unix seconds")
    expected = sign(state.secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise Rejected(401, "bad_signature", "the signature does not match")
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Rejected(401, "stale_timestamp", f"the timestamp is more than {MAX_SKEW_SECONDS} s from now")


def parse_message(headers: Any, body: bytes) -> dict[str, Any]:
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Rejected(400, "bad_content_type", "Content-Type must be application/json")
    try:
        msg = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Rejected(400, "bad_json", f"the body is not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise Rejected(400, "bad_json", "the body must be a JSON object")
    for field in STRING_FIELDS:
        if not isinstance(msg.get(field), str) or not msg[field]:
            raise Rejected(400, "bad_field", f"`{field}` must be a non-empty string")
    if msg.get("encoding") not in ENCODINGS:
        raise Rejected(400, "bad_field", "`encoding` must be \"gsm7\" or \"ucs2\"")
    segments = msg.get("segments")
    if not isinstance(segments, int) or isinstance(segments, bool) or segments < 1:
        raise Rejected(400, "bad_field", "`segments` must be a positive integer")
    if not E164.fullmatch(msg["to"]):
        raise Rejected(400, "bad_number", "`to` must be an E.164 number (+ and 7 to 15 digits)")
    if msg["id"] != headers.get("Idempotency-Key"):
        raise Rejected(400, "id_mismatch", "`id` must equal the Idempotency-Key header")
    return msg


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sms-peer/1"
    server: "PeerServer"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes | None:
        """The request body, or None after answering a request whose body cannot be read."""
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                body = self.read_chunked()
            else:
                length = int(self.headers.get("Content-Length") or "0")
                body = self.rfile.read(length) if 0 <= length <= MAX_BODY_BYTES else None
        except ValueError:
            self.close_connection = True
            self.send_json(400, {"error": "bad_framing", "detail": "unreadable Content-Length or chunk"})
            return None
        if body is None:
            self.close_connection = True
            self.send_json(413, {"error": "too_large", "detail": f"at most {MAX_BODY_BYTES} bytes"})
        return body

    def read_chunked(self) -> bytes | None:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def do_GET(self) -> None:
        if self.path == "/_peer/messages":
            self.send_json(200, self.server.state.snapshot())
        else:
            self.send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        body = self.read_body()
        if body is None:
            return
        if self.path == "/sms":
            self.post_sms(body)
        elif self.path == "/_peer/mode":
            self.post_mode(body)
        else:
            self.send_json(404, {"error": "not_found"})

    def post_sms(self, body: bytes) -> None:
        state = self.server.state
        with state.lock:
            fail_status, delay_ms = state.fail_status, state.delay_ms
        if fail_status is not None:
            with state.lock:
                state.failed += 1
            status, payload = fail_status, {"error": "unavailable", "detail": "peer fail mode"}
        else:
            status, payload = self.accept_sms(state, body)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        self.send_json(status, payload)

    def accept_sms(self, state: PeerState, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            check_signature(state, self.headers, body)
        except Rejected as r:
            with state.lock:
                state.rejected += 1
            log.info("rejected: %s", r.detail)
            return r.status, {"error": r.error, "detail": r.detail}
        with state.lock:
            state.received += 1
        try:
            msg = parse_message(self.headers, body)
        except Rejected as r:
            with state.lock:
                state.rejected += 1
            log.info("rejected: %s", r.detail)
            return r.status, {"error": r.error, "detail": r.detail}
        encoding, segments = segment_text(msg["text"])
        record = {
            "id": msg["id"],
            "to": msg["to"],
            "text": msg["text"],
            "encoding": msg["encoding"],
            "segments": msg["segments"],
            "purpose": msg["purpose"],
            "computed_encoding": encoding,
            "computed_segments": segments,
            "received_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        with state.lock:
            if msg["id"] in state.ids:
                state.duplicates += 1
                return 200, {"status": "duplicate"}
            state.ids.add(msg["id"])
            state.messages.append(record)
        return 202, {"status": "accepted"}

    def post_mode(self, body: bytes) -> None:
        try:
            mode = json.loads(body.decode("utf-8") or "{}")
            if not isinstance(mode, dict):
                raise ValueError("the body must be a JSON object")
            fail_status = mode.get("fail_status", ...)
            delay_ms = mode.get("delay_ms", ...)
            if fail_status is not ... and fail_status is not None:
                fail_status = valid_status(fail_status)
            if delay_ms is not ... and (not isinstance(delay_ms, int) or delay_ms < 0):
                raise ValueError("delay_ms must be a non-negative integer")
        except (UnicodeDecodeError, ValueError) as e:
            self.send_json(400, {"error": "bad_mode", "detail": str(e)})
            return
        state = self.server.state
        with state.lock:
            if fail_status is not ...:
                state.fail_status = fail_status
            if delay_ms is not ...:
                state.delay_ms = delay_ms
            current = {"fail_status": state.fail_status, "delay_ms": state.delay_ms}
        log.info("mode: %s", current)
        self.send_json(200, current)


def valid_status(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 200 <= value <= 599:
        raise ValueError("fail_status must be an HTTP status (200-599) or null")
    return value


class PeerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: PeerState) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state


def main() -> int:
    parser = argparse.ArgumentParser(description="Test double of an SMS aggregator's endpoint.")
    parser.add_argument("--secret", required=True, help="the shared HMAC secret")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--fail-status", type=int, default=None, help="answer every POST /sms with this status")
    parser.add_argument("--delay-ms", type=int, default=0, help="wait this long before each answer")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="sms_peer: %(message)s")
    if args.fail_status is not None:
        try:
            valid_status(args.fail_status)
        except ValueError as e:
            parser.error(str(e))
    if args.delay_ms < 0:
        parser.error("--delay-ms must not be negative")

    server = PeerServer(args.port, PeerState(args.secret, args.fail_status, max(0, args.delay_ms)))
    # shutdown() waits for serve_forever() to return, so it must not run on its thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
