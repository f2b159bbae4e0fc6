#!/usr/bin/env python3
"""Test double of someone else's service: the SMTP submission server Nøkkel sends mail to.

Stands in for a mail provider's submission service in the Rust delivery tests and speaks
SMTP as such a service does (RFC 5321 with STARTTLS per RFC 3207, AUTH per RFC 4954):

- STARTTLS first: before it only EHLO, NOOP, STARTTLS and QUIT are allowed (530), and
  AUTH is not offered. The certificate is self-signed for `localhost` and 127.0.0.1,
  made fresh at every start and written as PEM to --cert-out for the sender to trust.
- AUTH PLAIN or LOGIN with --user/--password before MAIL (530 otherwise, 535 for wrong
  credentials).
- Each accepted message is parsed with the `email` package (policy=default) and kept.
  A message whose Message-ID was already kept is accepted (250) but counted as a
  duplicate and not kept again.
- Fail mode: with a fail code set (451 temporary, 550 permanent, any 4xx/5xx), every
  MAIL, RCPT and end of DATA is answered with it and nothing is kept.

Control HTTP server on a second port (127.0.0.1), for the tests:

    GET  /_peer/messages  {"received", "duplicates", "failed", "messages": [...]}
    POST /_peer/mode      {"fail_code": 451 | null}

`received` counts the messages accepted after DATA, duplicates included; `failed` the
commands answered with the fail code. Each message: message_id, mail_from, rcpt_tos,
auth_login, subject, content_language, from, to, content_type, text and html (the
text/plain and text/html bodies, decoded, line ends as \n), headers ([name, value] in order), defects
(what the email parser found wrong), size (bytes), raw (as UTF-8, errors replaced),
received_at.

Usage: smtp_peer.py --user U --password P --cert-out PATH [--port 0]
Binds 127.0.0.1, prints one line {"smtp_port": N, "control_port": M} to stdout when
ready, logs to stderr.

The SMS peer's contract (sms_peer.py) is Nøkkel's own and docs/OPERATIONS.md will
document it; SMTP is the standard, so this docstring is all there is to say here.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import email
import email.policy
import hmac
import ipaddress
import json
import logging
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger("smtp_peer")


def make_certificate() -> tuple[bytes, bytes]:
    """A fresh self-signed server certificate for localhost and 127.0.0.1: (cert, key) PEM.

    An end-entity certificate (CA:FALSE, serverAuth) as rustls/webpki want it when it is
    added to the trust store as its own anchor.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Nøkkel test peer"),
    ])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            ]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def tls_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(cert_pem)
        with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(key_pem)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def describe(raw: bytes, envelope: Envelope, session: Session) -> dict[str, Any]:
    """What the tests get to see of one message."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    defects: list[str] = []
    for part in msg.walk():
        defects += [f"{type(d).__name__}: {d}" for d in part.defects]
        for name, value in part.items():
            defects += [f"{name}: {type(d).__name__}: {d}" for d in getattr(value, "defects", ())]

    def header(name: str) -> str | None:
        value = msg.get(name)
        return None if value is None else str(value).strip()

    def body(subtype: str) -> str | None:
        part = msg.get_body(preferencelist=(subtype,))
        if part is None:
            return None
        try:
            content = part.get_content()
        except (LookupError, ValueError) as e:
            defects.append(f"text/{subtype}: cannot decode: {e}")
            return None
        # The wire form has CRLF line ends; the tests compare with text that has \n.
        return content.replace("\r\n", "\n") if isinstance(content, str) else None

    return {
        "message_id": header("Message-ID"),
        "mail_from": envelope.mail_from,
        "rcpt_tos": list(envelope.rcpt_tos),
        "auth_login": session.auth_data,
        "subject": header("Subject"),
        "content_language": header("Content-Language"),
        "from": header("From"),
        "to": header("To"),
        "content_type": msg.get_content_type(),
        "text": body("plain"),
        "html": body("html"),
        "headers": [[name, str(value)] for name, value in msg.items()],
        "defects": defects,
        "size": len(raw),
        "raw": raw.decode("utf-8", errors="replace"),
        "received_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
    }


class PeerState:
    """Everything the peer has seen; shared between the SMTP loop and the control thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fail_code: int | None = None
        self.received = 0
        self.duplicates = 0
        self.failed = 0
        self.messages: list[dict[str, Any]] = []
        self.message_ids: set[str] = set()

    def fail_reply(self) -> str | None:
        """The reply for a command in fail mode (counted), or None when not failing."""
        with self.lock:
            code = self.fail_code
            if code is None:
                return None
            self.failed += 1
        if code < 500:
            return f"{code} 4.3.0 Service temporarily unavailable (test peer fail mode)"
        return f"{code} 5.3.0 Service refuses mail (test peer fail mode)"

    def store(self, record: dict[str, Any]) -> bool:
        """Keep a message unless its Message-ID is known; False for a duplicate."""
        with self.lock:
            self.received += 1
            message_id = record["message_id"]
            if message_id is not None and message_id in self.message_ids:
                self.duplicates += 1
                return False
            if message_id is not None:
                self.message_ids.add(message_id)
            self.messages.append(record)
            return True

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "received": self.received,
                "duplicates": self.duplicates,
                "failed": self.failed,
                "messages": [dict(m) for m in self.messages],
            }


class Handler:
    """aiosmtpd hooks: with a hook present, aiosmtpd leaves filling the envelope to it."""

    def __init__(self, state: PeerState) -> None:
        self.state = state

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if (reply := self.state.fail_reply()) is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if (reply := self.state.fail_reply()) is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if (reply := self.state.fail_reply()) is not None:
            return reply
        raw = envelope.original_content or b""
        try:
            record = describe(raw, envelope, session)
        except Exception as e:  # a message the email package cannot take is the test's news
            log.exception("cannot parse a message")
            return f"554 5.6.0 Cannot parse the message: {type(e).__name__}"
        if self.state.store(record):
            log.info("kept %s for %s", record["message_id"], record["rcpt_tos"])
        else:
            log.info("duplicate %s", record["message_id"])
        return "250 2.0.0 OK"


def authenticator(user: str, password: str):  # -> aiosmtpd AuthenticatorType
    want_user, want_password = user.encode("utf-8"), password.encode("utf-8")

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user_ok = hmac.compare_digest(data.login, want_user)
        password_ok = hmac.compare_digest(data.password, want_password)
        if not (user_ok and password_ok):
            log.info("AUTH %s refused", mechanism)
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=data.login.decode("utf-8", errors="replace"))

    return authenticate


class ControlHandler(BaseHTTPRequestHandler):
    server: "ControlServer"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("control: %s", format % args)

    def send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/_peer/messages":
            self.send_json(200, self.server.state.snapshot())
        else:
            self.send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or "0")
        body = self.rfile.read(length)
        if self.path != "/_peer/mode":
            self.send_json(404, {"error": "not_found"})
            return
        try:
            mode = json.loads(body.decode("utf-8") or "{}")
            if not isinstance(mode, dict):
                raise ValueError("the body must be a JSON object")
            code = mode.get("fail_code", ...)
            if code is not ... and code is not None:
                code = valid_fail_code(code)
        except (UnicodeDecodeError, ValueError) as e:
            self.send_json(400, {"error": "bad_mode", "detail": str(e)})
            return
        state = self.server.state
        with state.lock:
            if code is not ...:
                state.fail_code = code
            current = {"fail_code": state.fail_code}
        log.info("mode: %s", current)
        self.send_json(200, current)


def valid_fail_code(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 400 <= value <= 599:
        raise ValueError("fail_code must be an SMTP 4xx or 5xx code or null")
    return value


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: PeerState) -> None:
        super().__init__(("127.0.0.1", 0), ControlHandler)
        self.state = state


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    cert_pem, key_pem = make_certificate()
    ctx = tls_context(cert_pem, key_pem)
    write_atomically(args.cert_out, cert_pem)

    state = PeerState()
    handler = Handler(state)
    auth = authenticator(args.user, args.password)

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname="localhost",
            tls_context=ctx,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=auth,
            enable_SMTPUTF8=True,
            loop=loop,
        )

    # Bound here rather than by aiosmtpd's Controller: port 0 works and nothing else can
    # take the port between choosing and binding it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    smtp_server = await loop.create_server(protocol, sock=sock)

    control = ControlServer(state)
    threading.Thread(target=control.serve_forever, name="control", daemon=True).start()

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ports = {"smtp_port": sock.getsockname()[1], "control_port": control.server_address[1]}
    print(json.dumps(ports), flush=True)
    log.info("ready: %s, certificate in %s", ports, args.cert_out)

    await stop.wait()
    smtp_server.close()
    control.shutdown()
    control.server_close()
    log.info("stopped")


def main() -> int:
    parser = argparse.ArgumentParser(description="Test double of a mail provider's SMTP submission server.")
    parser.add_argument("--user", required=True, help="the AUTH user name")
    parser.add_argument("--password", required=True, help="the AUTH password")
    parser.add_argument("--cert-out", required=True, help="where to write the server certificate (PEM)")
    parser.add_argument("--port", type=int, default=0, help="SMTP port on 127.0.0.1 (0: any free one)")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")
    # aiosmtpd warns on every AUTH that Session.login_data, which it sets itself, is deprecated.
    logging.getLogger("mail.log").addFilter(lambda record: "deprecated" not in record.getMessage())
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
