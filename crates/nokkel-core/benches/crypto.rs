//! Crypto costs behind one app-approved login: ring verify (approval, request proof),
//! ring sign (challenge, ID token), p256 sign (the device), and the whole approval check.
//! Run: `cargo bench -p nokkel-core --bench crypto`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nokkel_core::jws::{sign_compact, Header, ServerSigner, UnverifiedJws};
use nokkel_core::keys::{DeviceKey, ServerKey};
use nokkel_core::statements::{self, LoginContext, PendingLogin, UserVerification};
use rand::rngs::OsRng;

const ISS: &str = "https://id.nokkel.test";

fn crypto(c: &mut Criterion) {
    let rng = ring::rand::SystemRandom::new();
    let server = ServerKey::generate(&rng).unwrap();
    let device = DeviceKey::generate(&mut OsRng);
    let message = [7u8; 300];

    c.bench_function("ring ES256 sign (server)", |b| {
        b.iter(|| server.sign(&rng, black_box(&message)).unwrap())
    });
    c.bench_function("p256 ES256 sign (device, RFC 6979)", |b| {
        b.iter(|| device.sign(black_box(&message)))
    });

    let header = Header::with_kid("t+jwt", device.device_id().as_str());
    let jws = sign_compact(&header, &message, &device).unwrap();
    let public = device.public_key();
    c.bench_function("ring ES256 verify (server)", |b| {
        b.iter(|| {
            UnverifiedJws::decode(black_box(&jws), "t+jwt")
                .unwrap()
                .verify(&public)
                .unwrap()
        })
    });
    c.bench_function("p256 ES256 verify", |b| {
        b.iter(|| {
            UnverifiedJws::decode(black_box(&jws), "t+jwt")
                .unwrap()
                .verify_with_p256(&public)
                .unwrap()
        })
    });

    let context = LoginContext {
        service: "Skatteetaten".into(),
        browser: "Firefox 140".into(),
        os: "Linux".into(),
        place: None,
    };
    let now = 1_800_000_000;
    let pending = PendingLogin::start(ISS, context, &mut OsRng, now);
    let stored = serde_json::to_string(&pending).unwrap();
    let challenge = pending
        .sign_challenge(&device.device_id(), &ServerSigner::new(&server, &rng))
        .unwrap();
    let verified = statements::verify_login_challenge(
        &challenge,
        server.public_key(),
        ISS,
        &device.device_id(),
        now,
    )
    .unwrap();
    let approval = verified
        .approve(
            pending.number(),
            UserVerification::Biometric,
            1,
            &device,
            now,
        )
        .unwrap();
    c.bench_function("issue + sign login challenge (server)", |b| {
        b.iter(|| {
            let p = PendingLogin::start(ISS, pending.context().clone(), &mut OsRng, now);
            p.sign_challenge(&device.device_id(), &ServerSigner::new(&server, &rng))
                .unwrap()
        })
    });
    c.bench_function("verify_approval incl. pending from JSON (server)", |b| {
        b.iter(|| {
            let p: PendingLogin = serde_json::from_str(&stored).unwrap();
            statements::verify_approval(black_box(&approval), p, &public, 0, now).unwrap()
        })
    });
}

criterion_group!(benches, crypto);
criterion_main!(benches);
