//! ring (the server's verifier) and p256 (pure Rust) give the same answer on random keys,
//! messages and signatures, genuine and corrupted; DER conversion round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nokkel_core::jws::{der_to_fixed, fixed_to_der, sign_compact, Header, UnverifiedJws};
use nokkel_core::keys::DeviceKey;
use proptest::prelude::*;

fn key(seed: [u8; 32]) -> Option<DeviceKey> {
    DeviceKey::from_secret_bytes(&seed).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn ring_and_p256_agree_on_genuine_and_corrupted_signatures(
        seed in any::<[u8; 32]>(),
        other_seed in any::<[u8; 32]>(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        flip in any::<(usize, u8)>(),
    ) {
        let (Some(signer), Some(other)) = (key(seed), key(other_seed)) else {
            return Ok(());
        };
        let header = Header::with_kid("t+jwt", signer.device_id().as_str());
        let jws = sign_compact(&header, &payload, &signer).unwrap();

        let decoded = UnverifiedJws::decode(&jws, "t+jwt").unwrap();
        prop_assert_eq!(decoded.clone().verify(&signer.public_key()).unwrap(), payload.clone());
        prop_assert_eq!(decoded.clone().verify_with_p256(&signer.public_key()).unwrap(), payload.clone());
        prop_assert_eq!(
            decoded.clone().verify(&other.public_key()).is_ok(),
            decoded.verify_with_p256(&other.public_key()).is_ok()
        );

        // Corrupt one byte of the signature: both must reject (or, never, both accept).
        let (input, sig) = jws.rsplit_once('.').unwrap();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut sig = engine.decode(sig).unwrap();
        let index = flip.0 % 64;
        sig[index] ^= flip.1.max(1);
        let corrupted = format!("{input}.{}", engine.encode(&sig));
        let d = UnverifiedJws::decode(&corrupted, "t+jwt").unwrap();
        let ring_ok = d.clone().verify(&signer.public_key()).is_ok();
        let p256_ok = d.verify_with_p256(&signer.public_key()).is_ok();
        prop_assert_eq!(ring_ok, p256_ok);
        prop_assert!(!ring_ok);
    }

    #[test]
    fn random_64_byte_strings_agree(seed in any::<[u8; 32]>(), sig in any::<[u8; 32]>(), sig2 in any::<[u8; 32]>()) {
        let Some(signer) = key(seed) else { return Ok(()); };
        let mut fixed = [0u8; 64];
        fixed[..32].copy_from_slice(&sig);
        fixed[32..].copy_from_slice(&sig2);
        let public = signer.public_key().to_uncompressed();
        let ring_ok = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &public[..])
            .verify(b"m", &fixed)
            .is_ok();
        let p256_ok = p256::ecdsa::Signature::from_slice(&fixed).is_ok_and(|s| {
            use p256::ecdsa::signature::Verifier as _;
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&public).unwrap().verify(b"m", &s).is_ok()
        });
        prop_assert_eq!(ring_ok, p256_ok);
        prop_assert!(!ring_ok);
        // DER conversion agrees with validity of r and s as scalars.
        match fixed_to_der(&fixed) {
            Ok(der) => prop_assert_eq!(der_to_fixed(&der).unwrap(), fixed),
            Err(_) => prop_assert!(fixed[..32].iter().all(|b| *b == 0) || fixed[32..].iter().all(|b| *b == 0) || fixed[0] == 0xff || fixed[32] == 0xff),
        }
    }

    #[test]
    fn der_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(fixed) = der_to_fixed(&bytes) {
            prop_assert_eq!(fixed_to_der(&fixed).unwrap(), bytes);
        }
    }
}
