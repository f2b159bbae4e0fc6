//! Test vectors in docs/vectors/: the generator, the check that the files reproduce byte for
//! byte (p256 signatures are deterministic, RFC 6979), and the check that every case gives
//! exactly its expected result with our (ring) verifiers.
//!
//! Regenerate after a deliberate format change:
//! `NOKKEL_TEST_REGENERATE_VECTORS=1 cargo test -p nokkel-core --test vectors files_reproduce_byte_for_byte`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nokkel_core::jws::{fixed_to_der, Es256Signer as _};
use nokkel_core::keys::{DeviceId, DeviceKey, PublicJwk, PublicKey};
use nokkel_core::number_match::NumberMatch;
use nokkel_core::statements::{
    self, Action, ActionStatement, Approval, Denial, Enrolment, LoginChallenge, PendingEnrolment,
    PendingLogin, ReadyTransfer, RequestProof, RequestTarget, Transfer, UserVerification,
};
use p256::ecdsa::signature::Verifier as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

const ISS: &str = "https://id.nokkel.test";
const NOW: i64 = 1_800_000_000;
const PENDING_URL: &str = "https://id.nokkel.test/api/v1/challenges/pending";

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Test keys: private scalar = SHA-256 of a label (all happen to be valid P-256 scalars).
struct Keys {
    device: DeviceKey,
    other: DeviceKey,
    server: DeviceKey,
    impostor: DeviceKey,
}

fn key_from_label(label: &str) -> DeviceKey {
    DeviceKey::from_secret_bytes(&Sha256::digest(label.as_bytes())).unwrap()
}

fn keys() -> Keys {
    Keys {
        device: key_from_label("nokkel test vector key: device"),
        other: key_from_label("nokkel test vector key: other device"),
        server: key_from_label("nokkel test vector key: server"),
        impostor: key_from_label("nokkel test vector key: impostor server"),
    }
}

fn private_jwk(key: &DeviceKey) -> Value {
    let jwk = key.public_key().to_jwk();
    json!({
        "kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "y": jwk.y,
        "d": b64(key.to_secret_bytes().as_ref()),
        "kid": key.device_id().as_str(),
    })
}

fn keys_json(k: &Keys, names: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    for name in names {
        map.insert((*name).to_owned(), private_jwk(key_named(k, name)));
    }
    Value::Object(map)
}

fn key_named<'a>(k: &'a Keys, name: &str) -> &'a DeviceKey {
    match name {
        "device" => &k.device,
        "other_device" => &k.other,
        "server" => &k.server,
        "impostor_server" => &k.impostor,
        _ => panic!("unknown key {name}"),
    }
}

/// Signs a header given as literal JSON text and a payload given as JSON text (so the bytes
/// do not depend on serde_json's map ordering features).
fn raw(key: &DeviceKey, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// Replaces the payload of a compact JWS, keeping header and signature.
fn swap_payload(jws: &str, payload: &str) -> String {
    let parts: Vec<&str> = jws.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(payload.as_bytes()), parts[2])
}

fn kid_header(typ: &str, kid: &DeviceId) -> String {
    format!(r#"{{"alg":"ES256","typ":"{typ}","kid":"{kid}"}}"#)
}

fn to_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

fn decoded_part(jws: &str, index: usize) -> Value {
    jws.split('.')
        .nth(index)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// Raw ECDSA check over the signing input, done with p256 (the file records it; the check
/// test recomputes it with ring and p256 and python recomputes it with `cryptography`).
fn signature_valid(jws: &str, key: &PublicKey) -> bool {
    let Some((input, sig)) = jws.rsplit_once('.') else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let Ok(sig) = p256::ecdsa::Signature::from_slice(&sig) else {
        return false;
    };
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.to_uncompressed()).unwrap();
    vk.verify(input.as_bytes(), &sig).is_ok()
}

/// A generic JOSE library accepts it: ES256, no `crit`, signature valid.
fn jws_valid(jws: &str, key: &PublicKey) -> bool {
    let header = decoded_part(jws, 0);
    header.get("alg") == Some(&json!("ES256"))
        && header.get("crit").is_none()
        && signature_valid(jws, key)
}

fn case(
    k: &Keys,
    name: &str,
    description: &str,
    jws: String,
    signature_key: &str,
    verify: Value,
    expected: &str,
) -> Value {
    let key = key_named(k, signature_key).public_key();
    json!({
        "name": name,
        "description": description,
        "jws": jws,
        "header": decoded_part(&jws, 0),
        "payload": decoded_part(&jws, 1),
        "signature_key": signature_key,
        "signature_valid": signature_valid(&jws, &key),
        "jws_valid": jws_valid(&jws, &key),
        "verify": verify,
        "expected": expected,
    })
}

fn file(
    statement: &str,
    title: &str,
    spec: &str,
    typ: &str,
    key_names: &[&str],
    cases: Vec<Value>,
) -> Value {
    let k = keys();
    json!({
        "title": title,
        "statement": statement,
        "typ": typ,
        "spec": spec,
        "generator": "crates/nokkel-core/tests/vectors.rs (NOKKEL_TEST_REGENERATE_VECTORS=1)",
        "keys": keys_json(&k, key_names),
        "cases": cases,
    })
}

// ---------------------------------------------------------------------------------------
// Generators, one per file
// ---------------------------------------------------------------------------------------

fn enrolment_payload(k: &Keys) -> Enrolment {
    Enrolment {
        v: 1,
        purpose: "enrolment".into(),
        aud: ISS.into(),
        iat: NOW,
        nonce: "enrol-nonce-0123456789abcdefghijklmnopqrstuvw".into(),
        device_id: k.device.device_id(),
        device_name: "Kari sin telefon".into(),
        platform: statements::Platform::Android,
        uv_methods: vec![
            UserVerification::Biometric,
            UserVerification::DeviceCredential,
        ],
    }
}

fn enrolment_file() -> Value {
    let k = keys();
    let p = enrolment_payload(&k);
    let jwk_header = |key: &DeviceKey| {
        let jwk = key.public_key().to_jwk();
        format!(
            r#"{{"alg":"ES256","typ":"nokkel-enrolment+jwt","jwk":{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}}}"#,
            jwk.x, jwk.y
        )
    };
    let pending = json!({"issuer": ISS, "nonce": p.nonce, "expires_at": NOW + 600});
    let verify = |now: i64| json!({"now": now, "pending": pending});
    let sign = |payload: &Enrolment| raw(&k.device, &jwk_header(&k.device), &to_text(payload));
    let valid = sign(&p);
    let mut cases = vec![case(
        &k,
        "valid",
        "A well-formed enrolment over the server's nonce.",
        valid.clone(),
        "device",
        verify(NOW + 2),
        "valid",
    )];
    let mut late = p.clone();
    late.iat = NOW + 601;
    cases.push(case(
        &k,
        "expired",
        "Answered after the nonce's expires_at (exact).",
        sign(&late),
        "device",
        verify(NOW + 601),
        "expired",
    ));
    let mut other_nonce = p.clone();
    other_nonce.nonce = "another-nonce".into();
    cases.push(case(
        &k,
        "nonce_mismatch",
        "Signed over another nonce.",
        sign(&other_nonce),
        "device",
        verify(NOW),
        "nonce_mismatch",
    ));
    let mut aud = p.clone();
    aud.aud = "https://evil.example".into();
    cases.push(case(
        &k,
        "wrong_audience",
        "Addressed to another server.",
        sign(&aud),
        "device",
        verify(NOW),
        "wrong_audience",
    ));
    let mut renamed = p.clone();
    renamed.device_name = "Mallory".into();
    cases.push(case(
        &k,
        "tampered_payload",
        "Payload changed after signing.",
        swap_payload(&valid, &to_text(&renamed)),
        "device",
        verify(NOW),
        "bad_signature",
    ));
    cases.push(case(
        &k,
        "wrong_key",
        "Signed by another key than the header's jwk.",
        raw(&k.other, &jwk_header(&k.device), &to_text(&p)),
        "device",
        verify(NOW),
        "bad_signature",
    ));
    let mut other_id = p.clone();
    other_id.device_id = k.other.device_id();
    cases.push(case(
        &k,
        "wrong_device",
        "device_id is not the thumbprint of the jwk.",
        sign(&other_id),
        "device",
        verify(NOW),
        "wrong_device",
    ));
    cases.push(case(
        &k,
        "kid_instead_of_jwk",
        "Enrolment must present the key as jwk.",
        raw(
            &k.device,
            &kid_header("nokkel-enrolment+jwt", &k.device.device_id()),
            &to_text(&p),
        ),
        "device",
        verify(NOW),
        "wrong_key",
    ));
    let mut future = p.clone();
    future.iat = NOW + 61;
    cases.push(case(
        &k,
        "issued_in_future",
        "iat more than 60 s ahead of the verifier.",
        sign(&future),
        "device",
        verify(NOW),
        "issued_in_future",
    ));
    let v2 = to_text(&p).replacen(r#""v":1"#, r#""v":2"#, 1);
    cases.push(case(
        &k,
        "unsupported_version",
        "v = 2.",
        raw(&k.device, &jwk_header(&k.device), &v2),
        "device",
        verify(NOW),
        "unsupported_version",
    ));
    file(
        "enrolment",
        "Enrolment statements (proof of possession)",
        "docs/PROTOCOL.md#enrolment-statement",
        "nokkel-enrolment+jwt",
        &["device", "other_device"],
        cases,
    )
}

fn pending_login(k: &Keys) -> Value {
    // The number 47 among choices [83, 47, 12], as NumberMatch would derive from some seed;
    // the vectors state them directly.
    let _ = k;
    json!({
        "issuer": ISS,
        "challenge_id": "ch-7f3a9c2e4b1d",
        "nonce": "login-nonce-abcdefghijklmnopqrstuvwxyz0123456",
        "issued_at": NOW,
        "expires_at": NOW + 120,
        "number": 47,
        "choices": [83, 47, 12],
        "context": {"service": "Skatteetaten", "browser": "Firefox 140", "os": "Windows 11", "place": "Oslo, Norway"}
    })
}

fn approval_payload(k: &Keys) -> Approval {
    Approval {
        v: 1,
        purpose: "approval".into(),
        aud: ISS.into(),
        iat: NOW + 30,
        device_id: k.device.device_id(),
        challenge_id: "ch-7f3a9c2e4b1d".into(),
        nonce: "login-nonce-abcdefghijklmnopqrstuvwxyz0123456".into(),
        number: 47,
        uv: UserVerification::Biometric,
        ctr: 5,
    }
}

fn answer_verify(k: &Keys, now: i64, last_counter: u64) -> Value {
    json!({"now": now, "pending": pending_login(k), "device_key": "device", "last_counter": last_counter})
}

fn approval_file() -> Value {
    let k = keys();
    let p = approval_payload(&k);
    let header = kid_header("nokkel-approval+jwt", &k.device.device_id());
    let sign = |payload: &Approval| raw(&k.device, &header, &to_text(payload));
    let v = |now, last| answer_verify(&k, now, last);
    let valid = sign(&p);
    let mut cases = vec![case(
        &k,
        "valid",
        "Right number, fresh counter, in time.",
        valid.clone(),
        "device",
        v(NOW + 31, 4),
        "valid",
    )];
    let mut wrong = p.clone();
    wrong.number = 83;
    cases.push(case(
        &k,
        "wrong_number",
        "Picked 83, the browser shows 47.",
        sign(&wrong),
        "device",
        v(NOW + 31, 4),
        "wrong_number",
    ));
    cases.push(case(
        &k,
        "counter_not_increased",
        "ctr 5 when the server last saw 5 (replay or clone).",
        valid.clone(),
        "device",
        v(NOW + 31, 5),
        "counter_not_increased",
    ));
    let mut late = p.clone();
    late.iat = NOW + 121;
    cases.push(case(
        &k,
        "expired",
        "Answered one second after the challenge expired.",
        sign(&late),
        "device",
        v(NOW + 121, 4),
        "expired",
    ));
    let mut aud = p.clone();
    aud.aud = "https://evil.example".into();
    cases.push(case(
        &k,
        "wrong_audience",
        "Addressed to another server.",
        sign(&aud),
        "device",
        v(NOW + 31, 4),
        "wrong_audience",
    ));
    let mut nonce = p.clone();
    nonce.nonce = "another-nonce".into();
    cases.push(case(
        &k,
        "nonce_mismatch",
        "Another nonce.",
        sign(&nonce),
        "device",
        v(NOW + 31, 4),
        "nonce_mismatch",
    ));
    let mut challenge = p.clone();
    challenge.challenge_id = "ch-000000000000".into();
    cases.push(case(
        &k,
        "wrong_challenge",
        "Answers another challenge.",
        sign(&challenge),
        "device",
        v(NOW + 31, 4),
        "wrong_challenge",
    ));
    cases.push(case(
        &k,
        "tampered_payload",
        "Number changed from 83 to 47 after signing.",
        swap_payload(&sign(&wrong), &to_text(&p)),
        "device",
        v(NOW + 31, 4),
        "bad_signature",
    ));
    cases.push(case(
        &k,
        "wrong_key",
        "Signed by another device's key under this device's kid.",
        raw(&k.other, &header, &to_text(&p)),
        "device",
        v(NOW + 31, 4),
        "bad_signature",
    ));
    let none = format!(
        "{}.{}.",
        b64(format!(
            r#"{{"alg":"none","typ":"nokkel-approval+jwt","kid":"{}"}}"#,
            k.device.device_id()
        )
        .as_bytes()),
        b64(to_text(&p).as_bytes())
    );
    cases.push(case(
        &k,
        "alg_none",
        "Unsigned (alg none).",
        none,
        "device",
        v(NOW + 31, 4),
        "unsupported_alg",
    ));
    let crit = format!(
        r#"{{"alg":"ES256","typ":"nokkel-approval+jwt","kid":"{}","crit":["nokkel-ext"],"nokkel-ext":true}}"#,
        k.device.device_id()
    );
    cases.push(case(
        &k,
        "crit_header",
        "A crit header (never accepted).",
        raw(&k.device, &crit, &to_text(&p)),
        "device",
        v(NOW + 31, 4),
        "unsupported_header",
    ));
    let denial_typ = kid_header("nokkel-denial+jwt", &k.device.device_id());
    cases.push(case(
        &k,
        "wrong_typ",
        "An approval payload under the denial typ.",
        raw(&k.device, &denial_typ, &to_text(&p)),
        "device",
        v(NOW + 31, 4),
        "wrong_typ",
    ));
    let mut stale = p.clone();
    stale.iat = NOW + 10;
    cases.push(case(
        &k,
        "stale",
        "iat 61 s before the verifier's clock.",
        sign(&stale),
        "device",
        v(NOW + 71, 4),
        "stale",
    ));
    let mut purpose = p.clone();
    purpose.purpose = "denial".into();
    cases.push(case(
        &k,
        "wrong_purpose",
        "purpose says denial.",
        sign(&purpose),
        "device",
        v(NOW + 31, 4),
        "wrong_purpose",
    ));
    let extra = to_text(&p).replacen('{', r#"{"extra":1,"#, 1);
    cases.push(case(
        &k,
        "unknown_member",
        "Payload has a member v1 does not define.",
        raw(&k.device, &header, &extra),
        "device",
        v(NOW + 31, 4),
        "bad_payload",
    ));
    let short_sig = {
        let (input, _) = valid.rsplit_once('.').unwrap();
        format!("{input}.{}", b64(&[7u8; 63]))
    };
    cases.push(case(
        &k,
        "short_signature",
        "Signature is 63 bytes.",
        short_sig,
        "device",
        v(NOW + 31, 4),
        "malformed",
    ));
    let test_uv = Approval {
        uv: UserVerification::NoneTest,
        ctr: 6,
        ..p.clone()
    };
    cases.push(case(
        &k,
        "valid_none_test",
        "Valid statement with uv none_test (servers outside test mode refuse it by policy).",
        sign(&test_uv),
        "device",
        v(NOW + 31, 5),
        "valid",
    ));
    file(
        "approval",
        "Login approvals",
        "docs/PROTOCOL.md#approval",
        "nokkel-approval+jwt",
        &["device", "other_device"],
        cases,
    )
}

fn denial_file() -> Value {
    let k = keys();
    let p = Denial {
        v: 1,
        purpose: "denial".into(),
        aud: ISS.into(),
        iat: NOW + 20,
        device_id: k.device.device_id(),
        challenge_id: "ch-7f3a9c2e4b1d".into(),
        nonce: "login-nonce-abcdefghijklmnopqrstuvwxyz0123456".into(),
        report: true,
        ctr: 9,
    };
    let header = kid_header("nokkel-denial+jwt", &k.device.device_id());
    let sign = |payload: &Denial| raw(&k.device, &header, &to_text(payload));
    let v = |now, last| answer_verify(&k, now, last);
    let mut cases = vec![case(
        &k,
        "valid_report",
        "\"This wasn't me\".",
        sign(&p),
        "device",
        v(NOW + 21, 8),
        "valid",
    )];
    let plain = Denial {
        report: false,
        ..p.clone()
    };
    cases.push(case(
        &k,
        "valid_plain",
        "A plain denial.",
        sign(&plain),
        "device",
        v(NOW + 21, 8),
        "valid",
    ));
    cases.push(case(
        &k,
        "counter_not_increased",
        "ctr 9 when the server last saw 12.",
        sign(&p),
        "device",
        v(NOW + 21, 12),
        "counter_not_increased",
    ));
    let late = Denial {
        iat: NOW + 125,
        ..p.clone()
    };
    cases.push(case(
        &k,
        "expired",
        "After the challenge expired.",
        sign(&late),
        "device",
        v(NOW + 125, 8),
        "expired",
    ));
    cases.push(case(
        &k,
        "tampered_payload",
        "report flipped after signing.",
        swap_payload(&sign(&p), &to_text(&plain)),
        "device",
        v(NOW + 21, 8),
        "bad_signature",
    ));
    cases.push(case(
        &k,
        "wrong_key",
        "Signed by another device under this device's kid.",
        raw(&k.other, &header, &to_text(&p)),
        "device",
        v(NOW + 21, 8),
        "bad_signature",
    ));
    let nonce = Denial {
        nonce: "another-nonce".into(),
        ..p.clone()
    };
    cases.push(case(
        &k,
        "nonce_mismatch",
        "Another nonce.",
        sign(&nonce),
        "device",
        v(NOW + 21, 8),
        "nonce_mismatch",
    ));
    file(
        "denial",
        "Login denials",
        "docs/PROTOCOL.md#denial",
        "nokkel-denial+jwt",
        &["device", "other_device"],
        cases,
    )
}

fn action_file() -> Value {
    let k = keys();
    let contact = Action::UpdateContact {
        mobile: Some("412 34 567".into()),
        email: Some("kari@example.no".into()),
    };
    let p = ActionStatement {
        v: 1,
        purpose: "action".into(),
        aud: ISS.into(),
        iat: NOW,
        device_id: k.device.device_id(),
        act: contact.clone(),
        uv: UserVerification::Biometric,
        ctr: 12,
    };
    let header = kid_header("nokkel-action+jwt", &k.device.device_id());
    let sign = |payload: &ActionStatement| raw(&k.device, &header, &to_text(payload));
    let v = |now: i64, last: u64, action: &Action| json!({"now": now, "device_key": "device", "issuer": ISS, "last_counter": last, "action": action});
    let mut cases = vec![case(
        &k,
        "valid_update_contact",
        "PUT /api/v1/contact with {\"mobile\": \"412 34 567\", \"email\": \"kari@example.no\"}.",
        sign(&p),
        "device",
        v(NOW + 1, 11, &contact),
        "valid",
    )];
    let revoke = Action::RevokeDevice {
        device_id: k.other.device_id().as_str().to_owned(),
    };
    let revoking = ActionStatement {
        act: revoke.clone(),
        uv: UserVerification::Passcode,
        ..p.clone()
    };
    cases.push(case(
        &k,
        "valid_revoke_device",
        "DELETE /api/v1/devices/{id} of the other device, after the app passcode.",
        sign(&revoking),
        "device",
        v(NOW + 1, 11, &revoke),
        "valid",
    ));
    let resume = Action::ResumeAppLogins {};
    let resuming = ActionStatement {
        act: resume.clone(),
        ..p.clone()
    };
    cases.push(case(
        &k,
        "valid_resume_app_logins",
        "POST /api/v1/account/resume.",
        sign(&resuming),
        "device",
        v(NOW + 1, 11, &resume),
        "valid",
    ));
    let other_mobile = Action::UpdateContact {
        mobile: Some("987 65 432".into()),
        email: Some("kari@example.no".into()),
    };
    cases.push(case(
        &k,
        "wrong_action_argument",
        "Confirms one mobile number; the request sets another.",
        sign(&p),
        "device",
        v(NOW + 1, 11, &other_mobile),
        "wrong_action",
    ));
    cases.push(case(
        &k,
        "wrong_action",
        "Confirms a contact change; the request revokes a device.",
        sign(&p),
        "device",
        v(NOW + 1, 11, &revoke),
        "wrong_action",
    ));
    cases.push(case(
        &k,
        "counter_not_increased",
        "ctr 12 when the server last saw 12: a replay, or a cloned key.",
        sign(&p),
        "device",
        v(NOW + 1, 12, &contact),
        "counter_not_increased",
    ));
    cases.push(case(
        &k,
        "stale",
        "iat 61 s old.",
        sign(&p),
        "device",
        v(NOW + 61, 11, &contact),
        "stale",
    ));
    let aud = ActionStatement {
        aud: "https://evil.example".into(),
        ..p.clone()
    };
    cases.push(case(
        &k,
        "wrong_audience",
        "Addressed to another server.",
        sign(&aud),
        "device",
        v(NOW + 1, 11, &contact),
        "wrong_audience",
    ));
    cases.push(case(
        &k,
        "tampered_payload",
        "The mobile number changed after signing.",
        swap_payload(
            &sign(&p),
            &to_text(&ActionStatement {
                act: other_mobile.clone(),
                ..p.clone()
            }),
        ),
        "device",
        v(NOW + 1, 11, &other_mobile),
        "bad_signature",
    ));
    let proof_typ = kid_header("nokkel-proof+jwt", &k.device.device_id());
    cases.push(case(
        &k,
        "wrong_typ",
        "The action payload under the request-proof typ.",
        raw(&k.device, &proof_typ, &to_text(&p)),
        "device",
        v(NOW + 1, 11, &contact),
        "wrong_typ",
    ));
    file(
        "action",
        "Action statements (fresh user verification)",
        "docs/PROTOCOL.md#action-statement",
        "nokkel-action+jwt",
        &["device", "other_device"],
        cases,
    )
}

fn request_proof_file() -> Value {
    let k = keys();
    let p = RequestProof {
        v: 1,
        purpose: "request".into(),
        aud: ISS.into(),
        iat: NOW,
        jti: "b2YtYS1raW5kLWp0aQ".into(),
        htm: "GET".into(),
        htu: PENDING_URL.into(),
        ath: None,
    };
    let header = kid_header("nokkel-proof+jwt", &k.device.device_id());
    let sign = |payload: &RequestProof| raw(&k.device, &header, &to_text(payload));
    let target = |method: &str, url: &str| json!({"issuer": ISS, "method": method, "url": url, "access_token": null});
    let v = |now: i64, t: Value| json!({"now": now, "device_key": "device", "target": t});
    let get = target("GET", PENDING_URL);
    let mut cases = vec![case(
        &k,
        "valid",
        "GET the pending challenge.",
        sign(&p),
        "device",
        v(NOW + 1, get.clone()),
        "valid",
    )];
    cases.push(case(
        &k,
        "wrong_method",
        "Proof for GET used on POST.",
        sign(&p),
        "device",
        v(NOW + 1, target("POST", PENDING_URL)),
        "wrong_request",
    ));
    cases.push(case(
        &k,
        "wrong_url",
        "Proof for another URL.",
        sign(&p),
        "device",
        v(
            NOW + 1,
            target("GET", "https://id.nokkel.test/api/v1/devices"),
        ),
        "wrong_request",
    ));
    cases.push(case(
        &k,
        "stale",
        "iat 61 s old.",
        sign(&p),
        "device",
        v(NOW + 61, get.clone()),
        "stale",
    ));
    let aud = RequestProof {
        aud: "https://evil.example".into(),
        ..p.clone()
    };
    cases.push(case(
        &k,
        "wrong_audience",
        "Addressed to another server.",
        sign(&aud),
        "device",
        v(NOW, get.clone()),
        "wrong_audience",
    ));
    let other_kid = kid_header("nokkel-proof+jwt", &k.other.device_id());
    cases.push(case(
        &k,
        "kid_of_another_device",
        "kid names another device than the key being verified with.",
        raw(&k.other, &other_kid, &to_text(&p)),
        "other_device",
        v(NOW, get.clone()),
        "wrong_key",
    ));
    let tampered = RequestProof {
        htm: "DELETE".into(),
        ..p.clone()
    };
    cases.push(case(
        &k,
        "tampered_payload",
        "htm changed after signing.",
        swap_payload(&sign(&p), &to_text(&tampered)),
        "device",
        v(NOW, target("DELETE", PENDING_URL)),
        "bad_signature",
    ));
    let token = RequestProof {
        ath: Some(b64(&Sha256::digest(b"example-access-token"))),
        ..p.clone()
    };
    cases.push(case(&k, "valid_with_ath", "ath = SHA-256 of the access token the request carries.", sign(&token), "device", v(NOW, json!({"issuer": ISS, "method": "GET", "url": PENDING_URL, "access_token": "example-access-token"})), "valid"));
    file(
        "request_proof",
        "Request proofs (DPoP shape)",
        "docs/PROTOCOL.md#request-proof",
        "nokkel-proof+jwt",
        &["device", "other_device"],
        cases,
    )
}

fn challenge_file() -> Value {
    let k = keys();
    let p = LoginChallenge {
        v: 1,
        purpose: "login_challenge".into(),
        iss: ISS.into(),
        aud: k.device.device_id(),
        challenge_id: "ch-7f3a9c2e4b1d".into(),
        nonce: "login-nonce-abcdefghijklmnopqrstuvwxyz0123456".into(),
        service: "Skatteetaten".into(),
        iat: NOW,
        exp: NOW + 120,
        browser: "Firefox 140".into(),
        os: "Windows 11".into(),
        place: Some("Oslo, Norway".into()),
        choices: [83, 47, 12],
    };
    let header = format!(
        r#"{{"alg":"ES256","typ":"nokkel-challenge+jwt","kid":"{}"}}"#,
        k.server.key_id()
    );
    let sign = |payload: &LoginChallenge| raw(&k.server, &header, &to_text(payload));
    let v = |now: i64, issuer: &str, device: &DeviceId| json!({"now": now, "pinned_key": "server", "issuer": issuer, "device_id": device});
    let dev = k.device.device_id();
    let mut cases = vec![case(
        &k,
        "valid",
        "The challenge as the device receives it.",
        sign(&p),
        "server",
        v(NOW + 2, ISS, &dev),
        "valid",
    )];
    let unknown_place = LoginChallenge {
        place: None,
        ..p.clone()
    };
    cases.push(case(
        &k,
        "valid_unknown_place",
        "place is null when unknown.",
        sign(&unknown_place),
        "server",
        v(NOW + 2, ISS, &dev),
        "valid",
    ));
    let impostor_header = format!(
        r#"{{"alg":"ES256","typ":"nokkel-challenge+jwt","kid":"{}"}}"#,
        k.impostor.key_id()
    );
    cases.push(case(
        &k,
        "impostor_key",
        "Signed by a key that is not the pinned one.",
        raw(&k.impostor, &impostor_header, &to_text(&p)),
        "server",
        v(NOW + 2, ISS, &dev),
        "wrong_key",
    ));
    cases.push(case(
        &k,
        "impostor_with_pinned_kid",
        "Signed by another key under the pinned key's kid.",
        raw(&k.impostor, &header, &to_text(&p)),
        "server",
        v(NOW + 2, ISS, &dev),
        "bad_signature",
    ));
    cases.push(case(
        &k,
        "wrong_audience",
        "Meant for another device.",
        sign(&p),
        "server",
        v(NOW + 2, ISS, &k.other.device_id()),
        "wrong_audience",
    ));
    cases.push(case(
        &k,
        "wrong_issuer",
        "The device enrolled with another issuer.",
        sign(&p),
        "server",
        v(NOW + 2, "https://other.nokkel.test", &dev),
        "wrong_issuer",
    ));
    cases.push(case(
        &k,
        "expired",
        "Device clock 61 s past exp (the device allows 60 s skew).",
        sign(&p),
        "server",
        v(NOW + 181, ISS, &dev),
        "expired",
    ));
    cases.push(case(
        &k,
        "still_valid_within_skew",
        "Device clock 60 s past exp.",
        sign(&p),
        "server",
        v(NOW + 180, ISS, &dev),
        "valid",
    ));
    let dup = LoginChallenge {
        choices: [47, 47, 12],
        ..p.clone()
    };
    cases.push(case(
        &k,
        "duplicate_choices",
        "Choices must be three distinct numbers 10-99.",
        sign(&dup),
        "server",
        v(NOW + 2, ISS, &dev),
        "bad_payload",
    ));
    let tampered = LoginChallenge {
        service: "NAV".into(),
        ..p.clone()
    };
    cases.push(case(
        &k,
        "tampered_payload",
        "service changed after signing.",
        swap_payload(&sign(&p), &to_text(&tampered)),
        "server",
        v(NOW + 2, ISS, &dev),
        "bad_signature",
    ));
    file(
        "login_challenge",
        "Server-signed login challenges",
        "docs/PROTOCOL.md#login-challenge",
        "nokkel-challenge+jwt",
        &["device", "other_device", "server", "impostor_server"],
        cases,
    )
}

fn number_matching_file() -> Value {
    let cases: Vec<Value> = (0u8..12)
        .map(|i| {
            let seed: [u8; 32] =
                Sha256::digest([b"nokkel number match vector ".as_slice(), &[i]].concat()).into();
            let m = NumberMatch::derive(&seed);
            json!({"seed": hex(&seed), "number": m.number(), "choices": m.choices()})
        })
        .chain(std::iter::once({
            let m = NumberMatch::derive(&[0u8; 32]);
            json!({"seed": hex(&[0u8; 32]), "number": m.number(), "choices": m.choices()})
        }))
        .collect();
    json!({
        "title": "Number matching derivation",
        "spec": "docs/PROTOCOL.md#number-matching",
        "generator": "crates/nokkel-core/tests/vectors.rs (NOKKEL_TEST_REGENERATE_VECTORS=1)",
        "cases": cases,
    })
}

fn keys_file() -> Value {
    let k = keys();
    let entries: Vec<Value> = ["device", "other_device", "server", "impostor_server"]
        .iter()
        .map(|name| {
            let key = key_named(&k, name);
            let public = key.public_key();
            json!({
                "name": name,
                "private_jwk": private_jwk(key),
                "thumbprint": public.thumbprint(),
                "spki_der_hex": hex(&public.to_spki_der().unwrap()),
                "sec1_uncompressed_hex": hex(&public.to_uncompressed()),
            })
        })
        .collect();
    json!({
        "title": "Test keys, RFC 7638 thumbprints (= device ids / kid) and SPKI encodings",
        "spec": "docs/PROTOCOL.md#keys-and-device-ids",
        "generator": "crates/nokkel-core/tests/vectors.rs (NOKKEL_TEST_REGENERATE_VECTORS=1)",
        "keys": entries,
    })
}

fn signatures_file() -> Value {
    let k = keys();
    let mut cases = Vec::new();
    for i in 0u32..6 {
        let message = format!("nokkel DER vector {i}");
        let fixed = k.device.sign(message.as_bytes());
        cases.push(json!({
            "message": message,
            "fixed_hex": hex(&fixed),
            "der_hex": hex(&fixed_to_der(&fixed).unwrap()),
        }));
    }
    let mut high_short = [0u8; 64];
    high_short[0] = 0x80;
    high_short[63] = 1;
    cases.push(json!({"message": null, "fixed_hex": hex(&high_short), "der_hex": hex(&fixed_to_der(&high_short).unwrap())}));
    let malformed = [
        "3006020101020101ff",
        "300602010102017f00",
        "3106020101020101",
        "3006020100020101",
        "3006020181020101",
        "300702020001020101",
        "",
    ];
    json!({
        "title": "ECDSA P-256 signatures: fixed r||s (JWS) and DER (keystores) forms",
        "spec": "docs/PROTOCOL.md#signatures",
        "generator": "crates/nokkel-core/tests/vectors.rs (NOKKEL_TEST_REGENERATE_VECTORS=1)",
        "public_jwk": private_jwk(&k.device),
        "conversions": cases,
        "malformed_der_hex": malformed,
    })
}

fn ready_transfer(k: &Keys) -> Value {
    json!({
        "issuer": ISS,
        "nonce": "transfer-nonce-0123456789abcdefghijklmnopqrst",
        "expires_at": NOW + 600,
        "new_device_id": k.other.device_id().as_str(),
    })
}

fn transfer_file() -> Value {
    let k = keys();
    let p = Transfer {
        v: 1,
        purpose: "transfer".into(),
        aud: ISS.into(),
        iat: NOW + 60,
        device_id: k.device.device_id(),
        nonce: "transfer-nonce-0123456789abcdefghijklmnopqrst".into(),
        new_device_id: k.other.device_id(),
        uv: UserVerification::Biometric,
        ctr: 8,
        retire: true,
    };
    let header = kid_header("nokkel-transfer+jwt", &k.device.device_id());
    let sign = |payload: &Transfer| raw(&k.device, &header, &to_text(payload));
    let v = |now: i64, last: u64| json!({"now": now, "ready": ready_transfer(&k), "device_key": "device", "last_counter": last});
    let valid = sign(&p);
    let mut cases = vec![case(
        &k,
        "valid",
        "The old device vouches for the new one and retires itself, counter grown, in time.",
        valid.clone(),
        "device",
        v(NOW + 61, 7),
        "valid",
    )];
    let keep = Transfer {
        retire: false,
        ctr: 9,
        ..p.clone()
    };
    cases.push(case(
        &k,
        "valid_keep",
        "The same, keeping the old device.",
        sign(&keep),
        "device",
        v(NOW + 61, 8),
        "valid",
    ));
    cases.push(case(
        &k,
        "counter_not_increased",
        "ctr 8 when the server last saw 8 (replay or clone).",
        valid.clone(),
        "device",
        v(NOW + 61, 8),
        "counter_not_increased",
    ));
    let mut other = p.clone();
    other.new_device_id = k.impostor.device_id();
    cases.push(case(
        &k,
        "wrong_new_device",
        "Vouches for another key than the one that proved itself to the transfer.",
        sign(&other),
        "device",
        v(NOW + 61, 7),
        "wrong_new_device",
    ));
    let mut nonce = p.clone();
    nonce.nonce = "another-nonce".into();
    cases.push(case(
        &k,
        "nonce_mismatch",
        "Signed over another transfer's nonce.",
        sign(&nonce),
        "device",
        v(NOW + 61, 7),
        "nonce_mismatch",
    ));
    let mut late = p.clone();
    late.iat = NOW + 601;
    cases.push(case(
        &k,
        "expired",
        "Signed one second after the transfer expired.",
        sign(&late),
        "device",
        v(NOW + 601, 7),
        "expired",
    ));
    let mut aud = p.clone();
    aud.aud = "https://evil.example".into();
    cases.push(case(
        &k,
        "wrong_audience",
        "Addressed to another server.",
        sign(&aud),
        "device",
        v(NOW + 61, 7),
        "wrong_audience",
    ));
    let mut named = p.clone();
    named.device_id = k.other.device_id();
    cases.push(case(
        &k,
        "wrong_device",
        "device_id names another device than the signing key.",
        sign(&named),
        "device",
        v(NOW + 61, 7),
        "wrong_device",
    ));
    cases.push(case(
        &k,
        "wrong_key",
        "Signed by the new device's key under the old device's kid.",
        raw(&k.other, &header, &to_text(&p)),
        "device",
        v(NOW + 61, 7),
        "bad_signature",
    ));
    let approval_typ = kid_header("nokkel-approval+jwt", &k.device.device_id());
    cases.push(case(
        &k,
        "wrong_typ",
        "A transfer payload under the approval typ.",
        raw(&k.device, &approval_typ, &to_text(&p)),
        "device",
        v(NOW + 61, 7),
        "wrong_typ",
    ));
    let mut purpose = p.clone();
    purpose.purpose = "approval".into();
    cases.push(case(
        &k,
        "wrong_purpose",
        "purpose says approval.",
        sign(&purpose),
        "device",
        v(NOW + 61, 7),
        "wrong_purpose",
    ));
    let mut stale = p.clone();
    stale.iat = NOW;
    cases.push(case(
        &k,
        "stale",
        "iat 61 s before the verifier's clock.",
        sign(&stale),
        "device",
        v(NOW + 61, 7),
        "stale",
    ));
    let missing = to_text(&p).replace(r#","retire":true"#, "");
    cases.push(case(
        &k,
        "missing_retire",
        "retire is required.",
        raw(&k.device, &header, &missing),
        "device",
        v(NOW + 61, 7),
        "bad_payload",
    ));
    file(
        "transfer",
        "Transfer to a new phone (the old device's vouching statement)",
        "docs/PROTOCOL.md#transfer",
        "nokkel-transfer+jwt",
        &["device", "other_device", "impostor_server"],
        cases,
    )
}

fn all_files() -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        ("enrolment.json", enrolment_file()),
        ("approval.json", approval_file()),
        ("denial.json", denial_file()),
        ("action.json", action_file()),
        ("request-proof.json", request_proof_file()),
        ("login-challenge.json", challenge_file()),
        ("number-matching.json", number_matching_file()),
        ("keys.json", keys_file()),
        ("signatures.json", signatures_file()),
        ("transfer.json", transfer_file()),
    ])
}

fn read(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; regenerate with NOKKEL_TEST_REGENERATE_VECTORS=1 cargo test -p nokkel-core --test vectors files_reproduce_byte_for_byte",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

#[test]
fn files_reproduce_byte_for_byte() {
    let files = all_files();
    if std::env::var_os("NOKKEL_TEST_REGENERATE_VECTORS").is_some() {
        std::fs::create_dir_all(vectors_dir()).unwrap();
        for (name, value) in &files {
            let text = serde_json::to_string_pretty(value).unwrap() + "\n";
            std::fs::write(vectors_dir().join(name), text).unwrap();
        }
    }
    for (name, generated) in files {
        // Compared as JSON values (member order aside); every JWS string inside must match
        // exactly, so the deterministic p256 signatures are reproduced byte for byte.
        assert_eq!(
            read(name),
            generated,
            "docs/vectors/{name} differs from what the code generates; if the change is \
             deliberate, run NOKKEL_TEST_REGENERATE_VECTORS=1 cargo test -p nokkel-core --test vectors files_reproduce_byte_for_byte"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The check: files → our verifiers, independent of the generator code above.
// ---------------------------------------------------------------------------------------

fn file_key(file: &Value, name: &str) -> PublicKey {
    let jwk = &file["keys"][name];
    let public = PublicJwk {
        kty: jwk["kty"].as_str().unwrap().into(),
        crv: jwk["crv"].as_str().unwrap().into(),
        x: jwk["x"].as_str().unwrap().into(),
        y: jwk["y"].as_str().unwrap().into(),
    };
    let key = PublicKey::from_jwk(&public).unwrap();
    // The private half in the file really is this key's.
    let d = URL_SAFE_NO_PAD.decode(jwk["d"].as_str().unwrap()).unwrap();
    assert_eq!(DeviceKey::from_secret_bytes(&d).unwrap().public_key(), key);
    assert_eq!(jwk["kid"].as_str().unwrap(), key.thumbprint());
    key
}

fn outcome<T>(result: Result<T, statements::StatementError>) -> String {
    match result {
        Ok(_) => "valid".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

fn run_case(file: &Value, case: &Value) -> String {
    let jws = case["jws"].as_str().unwrap();
    let verify = &case["verify"];
    let now = verify["now"].as_i64().unwrap();
    match file["statement"].as_str().unwrap() {
        "enrolment" => {
            let pending: PendingEnrolment =
                serde_json::from_value(verify["pending"].clone()).unwrap();
            outcome(statements::verify_enrolment(jws, pending, now))
        }
        kind @ ("approval" | "denial") => {
            let pending: PendingLogin = serde_json::from_value(verify["pending"].clone()).unwrap();
            let key = file_key(file, verify["device_key"].as_str().unwrap());
            let last = verify["last_counter"].as_u64().unwrap();
            if kind == "approval" {
                outcome(statements::verify_approval(jws, pending, &key, last, now))
            } else {
                outcome(statements::verify_denial(jws, pending, &key, last, now))
            }
        }
        "request_proof" => {
            let key = file_key(file, verify["device_key"].as_str().unwrap());
            let t = &verify["target"];
            let target = RequestTarget {
                issuer: t["issuer"].as_str().unwrap(),
                method: t["method"].as_str().unwrap(),
                url: t["url"].as_str().unwrap(),
                access_token: t["access_token"].as_str(),
            };
            outcome(statements::verify_request_proof(jws, &key, &target, now))
        }
        "action" => {
            let key = file_key(file, verify["device_key"].as_str().unwrap());
            let action: Action = serde_json::from_value(verify["action"].clone()).unwrap();
            outcome(statements::verify_action(
                jws,
                &key,
                verify["issuer"].as_str().unwrap(),
                &action,
                verify["last_counter"].as_u64().unwrap(),
                now,
            ))
        }
        "login_challenge" => {
            let key = file_key(file, verify["pinned_key"].as_str().unwrap());
            let device = DeviceId::parse(verify["device_id"].as_str().unwrap()).unwrap();
            outcome(statements::verify_login_challenge(
                jws,
                &key,
                verify["issuer"].as_str().unwrap(),
                &device,
                now,
            ))
        }
        "transfer" => {
            let ready: ReadyTransfer = serde_json::from_value(verify["ready"].clone()).unwrap();
            let key = file_key(file, verify["device_key"].as_str().unwrap());
            let last = verify["last_counter"].as_u64().unwrap();
            outcome(statements::verify_transfer(jws, ready, &key, last, now))
        }
        other => panic!("unknown statement kind {other}"),
    }
}

const STATEMENT_FILES: [&str; 7] = [
    "enrolment.json",
    "approval.json",
    "denial.json",
    "action.json",
    "request-proof.json",
    "login-challenge.json",
    "transfer.json",
];

#[test]
fn every_case_gives_exactly_its_expected_result() {
    let mut checked = 0;
    for name in STATEMENT_FILES {
        let file = read(name);
        for case in file["cases"].as_array().unwrap() {
            let got = run_case(&file, case);
            assert_eq!(
                got,
                case["expected"].as_str().unwrap(),
                "{name} case {}",
                case["name"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} cases");
}

#[test]
fn ring_and_p256_agree_on_every_vector_signature() {
    for name in STATEMENT_FILES {
        let file = read(name);
        for case in file["cases"].as_array().unwrap() {
            let key = file_key(&file, case["signature_key"].as_str().unwrap());
            let jws = case["jws"].as_str().unwrap();
            let (input, sig) = jws.rsplit_once('.').unwrap();
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
            let ring_ok = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                key.to_uncompressed(),
            )
            .verify(input.as_bytes(), &sig)
            .is_ok();
            let p256_ok = p256::ecdsa::Signature::from_slice(&sig)
                .ok()
                .map(|s| {
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.to_uncompressed())
                        .unwrap()
                        .verify(input.as_bytes(), &s)
                        .is_ok()
                })
                .unwrap_or(false);
            let expected = case["signature_valid"].as_bool().unwrap();
            assert_eq!(ring_ok, expected, "{name} {} ring", case["name"]);
            assert_eq!(p256_ok, expected, "{name} {} p256", case["name"]);
        }
    }
}

#[test]
fn server_key_in_ring_signs_challenges_the_device_accepts() {
    // The vector challenges are signed with p256 for reproducibility; the server signs with
    // ring. Same key, same verifier.
    let file = read("login-challenge.json");
    let d = URL_SAFE_NO_PAD
        .decode(file["keys"]["server"]["d"].as_str().unwrap())
        .unwrap();
    let rng = ring::rand::SystemRandom::new();
    let server = nokkel_core::keys::ServerKey::from_secret_bytes(&d, &rng).unwrap();
    let device = DeviceId::parse(file["keys"]["device"]["kid"].as_str().unwrap()).unwrap();
    let pending: PendingLogin = serde_json::from_value(pending_login(&keys())).unwrap();
    let challenge = pending
        .sign_challenge(&device, &nokkel_core::jws::ServerSigner::new(&server, &rng))
        .unwrap();
    let verified = statements::verify_login_challenge(
        &challenge,
        &file_key(&file, "server"),
        ISS,
        &device,
        NOW + 1,
    )
    .unwrap();
    assert_eq!(verified.choices(), [83, 47, 12]);
    // The vector's valid challenge has the same payload.
    let vector_payload = &file["cases"][0]["payload"];
    assert_eq!(
        &serde_json::to_value(verified.payload()).unwrap(),
        vector_payload
    );
}

#[test]
fn number_matching_and_der_vectors() {
    let file = read("number-matching.json");
    for case in file["cases"].as_array().unwrap() {
        let seed: [u8; 32] = unhex(case["seed"].as_str().unwrap()).try_into().unwrap();
        let m = NumberMatch::derive(&seed);
        assert_eq!(json!(m.number()), case["number"]);
        assert_eq!(json!(m.choices()), case["choices"]);
    }
    let file = read("signatures.json");
    for case in file["conversions"].as_array().unwrap() {
        let fixed: [u8; 64] = unhex(case["fixed_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let der = unhex(case["der_hex"].as_str().unwrap());
        assert_eq!(nokkel_core::jws::fixed_to_der(&fixed).unwrap(), der);
        assert_eq!(nokkel_core::jws::der_to_fixed(&der).unwrap(), fixed);
    }
    for bad in file["malformed_der_hex"].as_array().unwrap() {
        assert!(nokkel_core::jws::der_to_fixed(&unhex(bad.as_str().unwrap())).is_err());
    }
}
