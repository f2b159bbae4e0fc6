#!/usr/bin/env python3
"""Checks docs/vectors/ with an independent implementation: jwcrypto for JWS/JWK and
pyca/cryptography for raw ECDSA and DER. Run by crates/nokkel-core/tests/jose_jwcrypto.rs.

Usage: check_vectors.py DOCS_VECTORS_DIR
Prints one line per failure and a closing 'N passed, M failed'; exits 1 on any failure.
"""
import base64
import hashlib
import hmac
import json
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from jwcrypto import jwk, jws

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
STATEMENT_FILES = [
    "enrolment.json",
    "approval.json",
    "denial.json",
    "action.json",
    "request-proof.json",
    "login-challenge.json",
    "transfer.json",
]

passed = 0
failed = 0


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(private):
    return jwk.JWK(kty="EC", crv="P-256", x=private["x"], y=private["y"])


def check_private_key(name, private):
    key = jwk.JWK(**{k: private[k] for k in ("kty", "crv", "x", "y", "d")})
    numbers = key.get_op_key("sign").private_numbers()
    pub = numbers.public_numbers
    check(
        pub.x == int.from_bytes(b64d(private["x"]), "big")
        and pub.y == int.from_bytes(b64d(private["y"]), "big"),
        f"{name}: d does not belong to x,y",
    )
    check(
        public_jwk(private).thumbprint() == private["kid"],
        f"{name}: kid is not the RFC 7638 thumbprint",
    )


def raw_signature_valid(compact, private):
    signing_input, _, sig_b64 = compact.rpartition(".")
    try:
        sig = b64d(sig_b64)
    except Exception:
        return False
    if len(sig) != 64:
        return False
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < P256_N and 0 < s < P256_N):
        return False
    key = public_jwk(private).get_op_key("verify")
    try:
        key.verify(encode_dss_signature(r, s), signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def jwcrypto_accepts(compact, private):
    try:
        token = jws.JWS()
        token.deserialize(compact)
        token.verify(public_jwk(private), alg="ES256")
        return True, token.payload
    except Exception:
        return False, None


def check_statement_file(directory, name):
    with open(os.path.join(directory, name)) as f:
        data = json.load(f)
    for key_name, private in data["keys"].items():
        check_private_key(f"{name} key {key_name}", private)
    for case in data["cases"]:
        label = f"{name} case {case['name']}"
        private = data["keys"][case["signature_key"]]
        compact = case["jws"]
        ok, payload = jwcrypto_accepts(compact, private)
        check(ok == case["jws_valid"], f"{label}: jwcrypto says {ok}, vector says jws_valid={case['jws_valid']}")
        raw = raw_signature_valid(compact, private)
        check(raw == case["signature_valid"], f"{label}: raw ECDSA says {raw}, vector says signature_valid={case['signature_valid']}")
        if ok:
            check(json.loads(payload) == case["payload"], f"{label}: payload differs from the decoded one in the file")
            header = json.loads(b64d(compact.split(".")[0]))
            check(header == case["header"], f"{label}: header differs")
            check(header.get("typ") == data["typ"] or case["expected"] == "wrong_typ", f"{label}: typ")
        if case["expected"] == "valid":
            check(ok, f"{label}: a valid statement must be a valid JWS")
            if "jwk" in case["header"]:
                check(
                    jwk.JWK(**case["header"]["jwk"]).thumbprint() == case["payload"]["device_id"],
                    f"{label}: device_id is not the thumbprint of the header jwk",
                )
            else:
                check(case["header"]["kid"] == private["kid"], f"{label}: kid names the signer")


def check_keys(directory):
    with open(os.path.join(directory, "keys.json")) as f:
        data = json.load(f)
    for entry in data["keys"]:
        private = entry["private_jwk"]
        check_private_key(f"keys.json {entry['name']}", private)
        check(public_jwk(private).thumbprint() == entry["thumbprint"], f"keys.json {entry['name']}: thumbprint")
        spki = serialization.load_der_public_key(bytes.fromhex(entry["spki_der_hex"]))
        numbers = spki.public_numbers()
        check(
            numbers.x == int.from_bytes(b64d(private["x"]), "big")
            and numbers.y == int.from_bytes(b64d(private["y"]), "big"),
            f"keys.json {entry['name']}: SPKI is another key",
        )
        check(
            spki.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint).hex()
            == entry["sec1_uncompressed_hex"],
            f"keys.json {entry['name']}: SEC1 encoding",
        )


def check_signatures(directory):
    with open(os.path.join(directory, "signatures.json")) as f:
        data = json.load(f)
    key = public_jwk(data["public_jwk"]).get_op_key("verify")
    for i, case in enumerate(data["conversions"]):
        fixed = bytes.fromhex(case["fixed_hex"])
        der = bytes.fromhex(case["der_hex"])
        r, s = int.from_bytes(fixed[:32], "big"), int.from_bytes(fixed[32:], "big")
        check(encode_dss_signature(r, s) == der, f"signatures.json conversion {i}: fixed -> DER")
        check(decode_dss_signature(der) == (r, s), f"signatures.json conversion {i}: DER -> fixed")
        if case["message"] is not None:
            try:
                key.verify(der, case["message"].encode(), ec.ECDSA(hashes.SHA256()))
                good = True
            except InvalidSignature:
                good = False
            check(good, f"signatures.json conversion {i}: signature does not verify")
    for bad in data["malformed_der_hex"]:
        try:
            r, s = decode_dss_signature(bytes.fromhex(bad))
            rejected = not (0 < r < P256_N and 0 < s < P256_N)
        except Exception:
            rejected = True
        check(rejected, f"signatures.json malformed {bad!r} accepted")


class Stream:
    """HMAC-SHA256(seed, "nokkel-number-match-v1" || i) blocks, read byte by byte."""

    def __init__(self, seed):
        self.seed, self.index, self.buf = seed, 0, b""

    def byte(self):
        if not self.buf:
            self.buf = hmac.new(self.seed, b"nokkel-number-match-v1" + bytes([self.index]), hashlib.sha256).digest()
            self.index += 1
        b, self.buf = self.buf[0], self.buf[1:]
        return b

    def uniform(self, n):
        limit = 65536 - 65536 % n
        while True:
            v = self.byte() << 8 | self.byte()
            if v < limit:
                return v % n


def derive(seed):
    st = Stream(seed)
    number = 10 + st.uniform(90)
    decoys = []
    while len(decoys) < 2:
        c = 10 + st.uniform(90)
        if c != number and c not in decoys:
            decoys.append(c)
    pos = st.uniform(3)
    choices = decoys[:pos] + [number] + decoys[pos:]
    return number, choices


def check_number_matching(directory):
    with open(os.path.join(directory, "number-matching.json")) as f:
        data = json.load(f)
    for case in data["cases"]:
        number, choices = derive(bytes.fromhex(case["seed"]))
        check(number == case["number"] and choices == case["choices"], f"number-matching seed {case['seed'][:8]}")


def main():
    directory = sys.argv[1]
    for name in STATEMENT_FILES:
        check_statement_file(directory, name)
    check_keys(directory)
    check_signatures(directory)
    check_number_matching(directory)
    print(f"jwcrypto vector check: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
