#!/usr/bin/env python3
"""Self-test of the test peers (test doubles of other people's services).

Starts sms_peer.py (an SMS aggregator's endpoint, the contract docs/OPERATIONS.md will
document) and smtp_peer.py (a mail provider's SMTP submission server) as subprocesses
and drives them with Python's own clients, the way Nøkkel's senders will. For anyone
changing the peers; the Rust delivery tests are their real users.

Run with the test venv: $HOME/.cache/nokkel/venv/bin/python tests/peers/selftest.py
Prints one line per check and closes with "N passed, N failed"; exits 1 on any failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import select
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ left in the tree
from sms_peer import sign  # noqa: E402  (the peer's own signing, checked below by vector)

SECRET = "sms-shared-secret-æøå"
SMTP_USER, SMTP_PASSWORD = "nokkel@example.test", "correct horse battery staple"

passed: list[str] = []
failed: list[str] = []


def check(name: str, ok: bool, detail: Any = "") -> bool:
    if ok:
        passed.append(name)
        print(f"ok    {name}")
    else:
        failed.append(name)
        print(f"FAIL  {name}: {detail}")
    return ok


def expect_raises(name: str, exc: type[BaseException], fn: Callable[[], Any],
                  test: Callable[[Any], bool] = lambda e: True) -> None:
    try:
        fn()
    except exc as e:
        check(name, test(e), repr(e))
    except Exception as e:  # noqa: BLE001 - report whatever it was
        check(name, False, f"raised {e!r}, wanted {exc.__name__}")
    else:
        check(name, False, f"no {exc.__name__} raised")


class Peer:
    """A peer subprocess: started, its ready line read, stopped with SIGTERM."""

    def __init__(self, *args: str) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=HERE
        )
        readable, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if readable else ""
        if not line:
            self.proc.kill()
            raise RuntimeError(f"{args[0]} did not get ready:\n{self.stderr()}")
        self.ready_line = line
        self.ready: dict[str, Any] = json.loads(line)

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int | None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def http(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


# ---------------------------------------------------------------------------- SMS

def sms_test() -> None:
    peer = Peer("sms_peer.py", "--secret", SECRET)
    base = f"http://127.0.0.1:{peer.ready['port']}"
    try:
        sms_checks(peer, base)
    finally:
        check("sms: SIGTERM ends the peer cleanly", peer.stop() == 0, peer.stderr()[-2000:])

    # The flags set the same modes as the control endpoint.
    flagged = Peer("sms_peer.py", "--secret", SECRET, "--fail-status", "500", "--delay-ms", "100")
    try:
        started = time.monotonic()
        status, _ = post_sms(f"http://127.0.0.1:{flagged.ready['port']}", sms_body("Hei"))
        check("sms: --fail-status and --delay-ms", status == 500 and time.monotonic() - started >= 0.1, status)
    finally:
        flagged.stop()


def sms_body(text: str, to: str = "+4791234567", purpose: str = "login_otp",
             encoding: str = "gsm7", segments: int = 1, msg_id: str | None = None) -> dict[str, Any]:
    return {"id": msg_id or str(uuid.uuid4()), "to": to, "text": text,
            "encoding": encoding, "segments": segments, "purpose": purpose}


def post_sms(base: str, msg: dict[str, Any], *, secret: str = SECRET, timestamp: int | None = None,
             key: str | None = None, signature: str | None = None) -> tuple[int, Any]:
    body = json.dumps(msg, ensure_ascii=False).encode("utf-8")
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": msg["id"] if key is None else key,
        "X-Nokkel-Timestamp": ts,
        "X-Nokkel-Signature": sign(secret, ts, body) if signature is None else signature,
    }
    return http("POST", f"{base}/sms", body, headers)


def sms_checks(peer: Peer, base: str) -> None:
    check("sms: ready line is exactly {\"port\": N}",
          peer.ready_line == json.dumps({"port": peer.ready["port"]}) + "\n", peer.ready_line)
    # The signature, computed independently of sign(): HMAC-SHA256 over "ts.body", hex.
    check("sms: signature vector",
          sign("key", "1700000000", b'{"a":1}')
          == "v1=" + hmac.new(b"key", b'1700000000.{"a":1}', hashlib.sha256).hexdigest())

    first = sms_body("Nøkkel: koden din er 123456")
    check("sms: signed message accepted (202)", post_sms(base, first) == (202, {"status": "accepted"}))
    check("sms: same id again is a duplicate (200)", post_sms(base, first) == (200, {"status": "duplicate"}))

    status, err = post_sms(base, sms_body("x"), signature="v1=" + "0" * 64)
    check("sms: bad signature refused (401)", status == 401 and err["error"] == "bad_signature", (status, err))
    status, err = post_sms(base, sms_body("x"), secret="another secret")
    check("sms: wrong secret refused (401)", status == 401, (status, err))
    status, err = post_sms(base, sms_body("x"), timestamp=int(time.time()) - 301)
    check("sms: stale timestamp refused (401)", status == 401 and err["error"] == "stale_timestamp", (status, err))
    status, err = post_sms(base, sms_body("x"), timestamp=int(time.time()) + 301)
    check("sms: future timestamp refused (401)", status == 401, (status, err))
    status, _ = post_sms(base, sms_body("x"), timestamp=int(time.time()) - 290)
    check("sms: timestamp 290 s old accepted", status == 202, status)
    status, err = http("POST", f"{base}/sms", json.dumps(sms_body("x")).encode(),
                       {"Content-Type": "application/json"})
    check("sms: unsigned request refused (401)", status == 401, (status, err))

    for bad in ("91234567", "+0791234567", "+47 912 34 567", "+47912", "+4791234567890123"):
        status, err = post_sms(base, sms_body("x", to=bad))
        check(f"sms: malformed number {bad!r} refused (400)", status == 400 and err["error"] == "bad_number",
              (status, err))
    status, err = post_sms(base, sms_body("x"), key="another-key")
    check("sms: id different from Idempotency-Key refused (400)", status == 400, (status, err))
    status, err = post_sms(base, {**sms_body("x"), "encoding": "utf8"})
    check("sms: unknown encoding refused (400)", status == 400, (status, err))
    incomplete = sms_body("x")
    del incomplete["purpose"]
    status, err = post_sms(base, incomplete)
    check("sms: missing field refused (400)", status == 400, (status, err))

    # Segment counting, recorded next to what the sender declared.
    cases = {
        "gsm 200": ("A" * 200, "gsm7", 2),
        "gsm 160": ("A" * 160, "gsm7", 1),
        "gsm ext 81x€": ("€" * 81, "gsm7", 2),
        "gsm æøåÆØÅ": ("Hei Åse, koden din er 123456. Ærlig talt: ø!", "gsm7", 1),
        "ucs2 ł": ("Kod logowania: 123456. Dziękujemy, Łukasz", "ucs2", 1),
        "ucs2 emoji": ("🔑" * 35, "ucs2", 1),
        "ucs2 emoji 36": ("🔑" * 36, "ucs2", 2),
        "ucs2 71": ("ł" * 71, "ucs2", 2),
    }
    ids = {}
    for name, (text, encoding, segments) in cases.items():
        msg = sms_body(text, encoding=encoding, segments=segments, purpose="notice")
        ids[msg["id"]] = (name, encoding, segments)
        post_sms(base, msg)

    # Fail mode: answered with the status, not stored.
    status, mode = http("POST", f"{base}/_peer/mode", json.dumps({"fail_status": 503}).encode(),
                        {"Content-Type": "application/json"})
    check("sms: mode set", status == 200 and mode == {"fail_status": 503, "delay_ms": 0}, (status, mode))
    down = sms_body("while down")
    status, _ = post_sms(base, down)
    check("sms: fail mode answers 503", status == 503, status)
    http("POST", f"{base}/_peer/mode", json.dumps({"fail_status": None}).encode())
    check("sms: after fail mode the same id is accepted", post_sms(base, down)[0] == 202)

    # Delay, and requests served concurrently while they wait.
    http("POST", f"{base}/_peer/mode", json.dumps({"delay_ms": 400}).encode())
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: post_sms(base, sms_body(f"parallel {i}", purpose="notice"))[0],
                                 range(8)))
    elapsed = time.monotonic() - started
    check("sms: delayed requests served concurrently", statuses == [202] * 8 and 0.4 <= elapsed < 2.0,
          (statuses, round(elapsed, 2)))
    http("POST", f"{base}/_peer/mode", json.dumps({"delay_ms": 0}).encode())
    status, err = http("POST", f"{base}/_peer/mode", json.dumps({"fail_status": "503"}).encode())
    check("sms: bad mode refused (400)", status == 400, (status, err))

    status, seen = http("GET", f"{base}/_peer/messages")
    by_id = {m["id"]: m for m in seen["messages"]}
    for msg_id, (name, encoding, segments) in ids.items():
        m = by_id.get(msg_id)
        check(f"sms: computed {name} = {encoding}/{segments}",
              m is not None and (m["computed_encoding"], m["computed_segments"]) == (encoding, segments), m)
    first_seen = by_id.get(first["id"], {})
    check("sms: message stored with declared and computed fields",
          {k: first_seen.get(k) for k in first} == first
          and first_seen.get("computed_encoding") == "gsm7" and "received_at" in first_seen, first_seen)
    # Signed and in time: first, duplicate, 290 s, 8 refused with 400, 8 segment cases, 1 after
    # fail mode, 8 parallel = 28; rejected: 5 with 401, 8 with 400; stored: 28 - 1 - 8 = 19.
    check("sms: counts", (seen["received"], seen["duplicates"], seen["rejected"], seen["failed"],
                          len(seen["messages"])) == (28, 1, 13, 1, 19),
          {k: v for k, v in seen.items() if k != "messages"} | {"stored": len(seen["messages"])})
    check("sms: arrival order", seen["messages"][0]["id"] == first["id"], seen["messages"][0])


# --------------------------------------------------------------------------- SMTP

def smtp_test() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cert = os.path.join(tmp, "smtp-cert.pem")
        peer = Peer("smtp_peer.py", "--user", SMTP_USER, "--password", SMTP_PASSWORD, "--cert-out", cert)
        try:
            smtp_checks(peer, cert)
        finally:
            check("smtp: SIGTERM ends the peer cleanly", peer.stop() == 0, peer.stderr()[-2000:])


def alternative_message(message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Nøkkel <noreply@nokkel.example>"
    msg["To"] = "Åse Ødegård <ase@example.test>"
    msg["Subject"] = "Ny innlogging på Nøkkel – var det deg?"
    msg["Message-ID"] = message_id
    msg.set_content("Hei Åse,\n\nnokon logga inn på kontoen din.\n")
    msg.add_alternative("<p>Hei Åse,</p><p>nokon logga inn på kontoen din.</p>", subtype="html")
    msg["Content-Language"] = "nn"  # after set_content, which drops all Content-* headers
    return msg


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def smtp_checks(peer: Peer, cert: str) -> None:
    port, control = peer.ready["smtp_port"], f"http://127.0.0.1:{peer.ready['control_port']}"
    check("smtp: ready line is exactly {\"smtp_port\": N, \"control_port\": M}",
          peer.ready_line == json.dumps({"smtp_port": port, "control_port": peer.ready["control_port"]}) + "\n",
          peer.ready_line)
    trust = ssl.create_default_context(cafile=cert)

    # Happy path: STARTTLS (verified for "localhost"), AUTH PLAIN, a multipart/alternative.
    message_id = make_msgid(domain="nokkel.example")
    with smtplib.SMTP("localhost", port, timeout=10) as s:
        s.ehlo()
        check("smtp: no AUTH offered before STARTTLS", not s.has_extn("auth") and s.has_extn("starttls"),
              s.esmtp_features)
        s.starttls(context=trust)
        s.ehlo()
        check("smtp: AUTH PLAIN and LOGIN offered after STARTTLS",
              set(s.esmtp_features.get("auth", "").split()) >= {"PLAIN", "LOGIN"}, s.esmtp_features)
        s.user, s.password = SMTP_USER, SMTP_PASSWORD
        check("smtp: AUTH PLAIN", s.auth("PLAIN", s.auth_plain)[0] == 235)
        refused = s.send_message(alternative_message(message_id), to_addrs=["ase@example.test"])
        check("smtp: multipart/alternative accepted", refused == {}, refused)
    seen = http("GET", f"{control}/_peer/messages")[1]
    m = seen["messages"][0] if seen["messages"] else {}
    check("smtp: stored message", {
        "message_id": m.get("message_id"), "mail_from": m.get("mail_from"), "rcpt_tos": m.get("rcpt_tos"),
        "subject": m.get("subject"), "content_language": m.get("content_language"),
        "from": m.get("from"), "to": m.get("to"), "content_type": m.get("content_type"),
        "auth_login": m.get("auth_login"),
    } == {
        "message_id": message_id, "mail_from": "noreply@nokkel.example", "rcpt_tos": ["ase@example.test"],
        "subject": "Ny innlogging på Nøkkel – var det deg?", "content_language": "nn",
        "from": "Nøkkel <noreply@nokkel.example>", "to": "Åse Ødegård <ase@example.test>",
        "content_type": "multipart/alternative", "auth_login": SMTP_USER,
    }, m)
    check("smtp: text and html parts decoded",
          m.get("text") == "Hei Åse,\n\nnokon logga inn på kontoen din.\n"
          and m.get("html") == "<p>Hei Åse,</p><p>nokon logga inn på kontoen din.</p>\n", m)
    check("smtp: size and no defects", m.get("size", 0) > 500 and m.get("defects") == [], m)

    # The same Message-ID again, over AUTH LOGIN and verified for the IP address.
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.starttls(context=trust)
        s.ehlo()
        s.user, s.password = SMTP_USER, SMTP_PASSWORD
        # Without an initial response: Python 3.11's smtplib answers the password prompt
        # with the user name when it sent one (its auth_login counts challenges wrongly).
        code = s.auth("LOGIN", s.auth_login, initial_response_ok=False)[0]
        check("smtp: AUTH LOGIN (certificate verified for 127.0.0.1)", code == 235, code)
        refused = s.send_message(alternative_message(message_id), to_addrs=["ase@example.test"])
        check("smtp: duplicate Message-ID accepted at SMTP level", refused == {}, refused)
    seen = http("GET", f"{control}/_peer/messages")[1]
    check("smtp: duplicate counted, not stored", (seen["received"], seen["duplicates"], len(seen["messages"]))
          == (2, 1, 1), {k: v for k, v in seen.items() if k != "messages"})

    with smtplib.SMTP("localhost", port, timeout=10) as s:
        s.starttls(context=trust)
        expect_raises("smtp: wrong password refused (535)", smtplib.SMTPAuthenticationError,
                      lambda: s.login(SMTP_USER, "wrong"), lambda e: e.smtp_code == 535)
    with smtplib.SMTP("localhost", port, timeout=10) as s:
        s.starttls(context=trust)
        s.ehlo()
        first = s.docmd("AUTH", "LOGIN " + b64(SMTP_USER))
        second = s.docmd(b64(SMTP_PASSWORD))
        check("smtp: AUTH LOGIN with initial response", (first[0], second[0]) == (334, 235), (first, second))
    with smtplib.SMTP("localhost", port, timeout=10) as s:
        s.starttls(context=trust)
        expect_raises("smtp: MAIL without AUTH refused (530)", smtplib.SMTPSenderRefused,
                      lambda: s.send_message(alternative_message(make_msgid()), to_addrs=["a@example.test"]),
                      lambda e: e.smtp_code == 530)
    with smtplib.SMTP("localhost", port, timeout=10) as s:
        s.ehlo()
        expect_raises("smtp: login without STARTTLS impossible", smtplib.SMTPNotSupportedError,
                      lambda: s.login(SMTP_USER, SMTP_PASSWORD))
        code, reply = s.docmd("AUTH", "PLAIN " + b64(f"\0{SMTP_USER}\0{SMTP_PASSWORD}"))
        check("smtp: AUTH without STARTTLS refused (530)", code == 530, (code, reply))
        code, reply = s.mail("noreply@nokkel.example")
        check("smtp: MAIL without STARTTLS refused (530)", code == 530 and b"STARTTLS" in reply, (code, reply))
    with smtplib.SMTP("localhost", port, timeout=10) as s:
        expect_raises("smtp: certificate not trusted by default", ssl.SSLCertVerificationError,
                      lambda: s.starttls(context=ssl.create_default_context()))

    # Fail mode: 451 (temporary) and 550 (permanent), nothing stored; then back to normal.
    for code in (451, 550):
        status, mode = http("POST", f"{control}/_peer/mode", json.dumps({"fail_code": code}).encode())
        check(f"smtp: mode fail_code {code} set", status == 200 and mode == {"fail_code": code}, (status, mode))
        with smtplib.SMTP("localhost", port, timeout=10) as s:
            s.starttls(context=trust)
            s.login(SMTP_USER, SMTP_PASSWORD)
            expect_raises(f"smtp: fail mode answers MAIL with {code}", smtplib.SMTPSenderRefused,
                          lambda: s.send_message(alternative_message(make_msgid()), to_addrs=["a@example.test"]),
                          lambda e: e.smtp_code == code)
    http("POST", f"{control}/_peer/mode", json.dumps({"fail_code": None}).encode())
    status, err = http("POST", f"{control}/_peer/mode", json.dumps({"fail_code": 250}).encode())
    check("smtp: bad mode refused (400)", status == 400, (status, err))
    with smtplib.SMTP("localhost", port, timeout=10) as s:
        s.starttls(context=trust)
        s.login(SMTP_USER, SMTP_PASSWORD)
        check("smtp: accepted again after fail mode",
              s.send_message(alternative_message(make_msgid()), to_addrs=["a@example.test"]) == {})
    seen = http("GET", f"{control}/_peer/messages")[1]
    check("smtp: counts", (seen["received"], seen["duplicates"], seen["failed"], len(seen["messages"]))
          == (3, 1, 2, 2), {k: v for k, v in seen.items() if k != "messages"})


def main() -> int:
    for name, test in (("sms", sms_test), ("smtp", smtp_test)):
        try:
            test()
        except Exception as e:  # noqa: BLE001 - a crash in one part is a failure, go on
            check(f"{name}: ran to the end", False, repr(e))
    print(f"{len(passed)} passed, {len(failed)} failed")
    if failed:
        print("failed: " + "; ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
