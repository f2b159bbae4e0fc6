"""A relying party built on authlib (not our code) that logs in at a Nøkkel server.

Driven by crates/nokkel-cli/tests/oidc_authlib.rs over stdin/stdout, one line each:
  -> PENDING <request id>       the server sent the browser to /login?request=<id>
  <- <callback URL>             the test finished the login and passes the redirect back
  -> RESULT <json>              claims verified by authlib, per client authentication method
  -> TAMPERED_REJECTED          authlib refused the ID token with one signature bit flipped
Any failure raises (non-zero exit, traceback on stderr).

Usage: client.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI
"""

import json
import sys
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import BadSignatureError
from authlib.oidc.core import CodeIDToken


def main():
    issuer, client_id, client_secret, redirect_uri = sys.argv[1:5]
    # Discovery: authlib's requests client does not fetch it by itself.
    meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == issuer, meta["issuer"]
    assert "S256" in meta["code_challenge_methods_supported"]
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    # Only the algorithm the provider announces; nothing else is accepted.
    jwt = JsonWebToken(meta["id_token_signing_alg_values_supported"])

    for method in ("client_secret_basic", "client_secret_post"):
        session = OAuth2Session(
            client_id,
            client_secret,
            scope="openid pid",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=method,
        )
        verifier = generate_token(64)
        nonce = generate_token(24)
        url, state = session.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        assert "code_challenge=" in url and "code_challenge_method=S256" in url, url
        browser = requests.get(url, allow_redirects=False, timeout=10)
        assert browser.status_code == 303, (browser.status_code, browser.text[:500])
        login = urlparse(browser.headers["Location"])
        assert login.path == "/login", browser.headers["Location"]
        print("PENDING", parse_qs(login.query)["request"][0], flush=True)

        callback = sys.stdin.readline().strip()
        params = parse_qs(urlparse(callback).query)
        assert params["iss"] == [issuer], params  # RFC 9207
        token = session.fetch_token(
            meta["token_endpoint"],
            authorization_response=callback,
            state=state,
            code_verifier=verifier,
        )
        claims = jwt.decode(
            token["id_token"],
            jwks,
            claims_cls=CodeIDToken,
            claims_options={
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": client_id},
            },
            claims_params={
                "nonce": nonce,
                "client_id": client_id,
                "access_token": token["access_token"],
            },
        )
        claims.validate()  # exp, iat, iss, aud, nonce, at_hash, auth_time
        userinfo = session.get(meta["userinfo_endpoint"], timeout=10).json()
        assert userinfo["sub"] == claims["sub"], (userinfo, dict(claims))
        kid = jwt_header_kid(token["id_token"])
        print("RESULT", json.dumps({"method": method, "kid": kid, "claims": dict(claims),
                                    "userinfo": userinfo}), flush=True)

    # The same library must refuse a token whose signature was tampered with.
    head, payload, signature = token["id_token"].split(".")
    flipped = ("A" if signature[10] != "A" else "B")
    tampered = ".".join([head, payload, signature[:10] + flipped + signature[11:]])
    try:
        jwt.decode(tampered, jwks, claims_cls=CodeIDToken)
    except BadSignatureError:
        print("TAMPERED_REJECTED", flush=True)
    else:
        raise AssertionError("authlib accepted a tampered ID token")


def jwt_header_kid(token):
    import base64

    head = token.split(".")[0]
    head += "=" * (-len(head) % 4)
    return json.loads(base64.urlsafe_b64decode(head))["kid"]


if __name__ == "__main__":
    main()
