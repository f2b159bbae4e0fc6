//! Relying parties: registration (`nokkel admin client add`, the demo client), redirect URI
//! rules, client authentication and pairwise subject identifiers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nokkel_core::random::Random;
use ring::hmac;
use subtle::ConstantTimeEq;

use super::{OidcError, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SCOPES};
use crate::secrets::ServerSecrets;
use crate::store::{ClientRecord, Store, StoreError};

/// Shortest client secret an operator may choose (generated ones are 43 characters).
pub const MIN_SECRET_LEN: usize = 32;

/// What an operator registers.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRegistration {
    /// The `client_id`: 3–64 characters of `A-Z a-z 0-9 - _ .`.
    pub id: String,
    /// The display name citizens see.
    pub name: String,
    /// Exact redirect URIs (https, or http on loopback).
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes beyond `openid` the client may request (`pid`).
    pub scopes: Vec<String>,
    /// Accept any http loopback redirect URI on any port (RFC 8252 §7.3).
    pub loopback_any_port: bool,
    /// The secret; `None` generates one.
    pub secret: Option<String>,
}

impl std::fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRegistration")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("scopes", &self.scopes)
            .field("loopback_any_port", &self.loopback_any_port)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// A registered client and its secret in clear, shown to the operator once.
pub struct RegisteredClient {
    /// The client id.
    pub id: String,
    /// The secret (generated or as given).
    pub secret: String,
}

impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("id", &self.id)
            .field("secret", &"***")
            .finish()
    }
}

fn invalid(why: impl Into<String>) -> OidcError {
    OidcError::InvalidRegistration(why.into())
}

fn check_uri(uri: &str, what: &str) -> Result<(), OidcError> {
    let url = url::Url::parse(uri).map_err(|e| invalid(format!("{what} {uri:?}: {e}")))?;
    if url.fragment().is_some() {
        return Err(invalid(format!("{what} {uri:?} must not have a fragment")));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err(invalid(format!(
            "{what} {uri:?} must use https (http only on loopback)"
        ))),
    }
}

fn client_record(
    registration: &ClientRegistration,
    secret: &str,
    secrets: &ServerSecrets,
    random: &dyn Random,
    now: i64,
) -> Result<ClientRecord, OidcError> {
    let id_ok = (3..=64).contains(&registration.id.len())
        && registration
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !id_ok {
        return Err(invalid(
            "client id must be 3–64 characters of A-Z a-z 0-9 - _ .",
        ));
    }
    if registration.name.trim().is_empty() {
        return Err(invalid("name is empty"));
    }
    if registration.redirect_uris.is_empty() && !registration.loopback_any_port {
        return Err(invalid("at least one redirect URI is needed"));
    }
    let mut scopes = vec!["openid".to_owned()];
    for scope in &registration.scopes {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(invalid(format!(
                "unknown scope {scope:?} (known: {})",
                SCOPES.join(", ")
            )));
        }
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    let mut sector_salt = vec![0u8; 32];
    random.fill(&mut sector_salt);
    let json = |uris: &[String]| serde_json::to_string(uris).unwrap_or_else(|_| "[]".to_owned());
    Ok(ClientRecord {
        id: registration.id.clone(),
        name: registration.name.trim().to_owned(),
        secret_hash: secrets.client_secret_hash(&registration.id, secret),
        redirect_uris: json(&registration.redirect_uris),
        post_logout_redirect_uris: json(&registration.post_logout_redirect_uris),
        scopes: scopes.join(" "),
        loopback_any_port: registration.loopback_any_port,
        sector_salt,
        created_at: now,
    })
}

/// Registers a new client; generates the secret unless one (of at least
/// [`MIN_SECRET_LEN`] characters) is given. The secret is stored only as a keyed hash.
pub async fn register_client(
    store: &Store,
    secrets: &ServerSecrets,
    random: &dyn Random,
    registration: &ClientRegistration,
    now: i64,
) -> Result<RegisteredClient, OidcError> {
    let secret = match &registration.secret {
        Some(secret) if secret.chars().count() < MIN_SECRET_LEN => {
            return Err(invalid(format!(
                "the secret must have at least {MIN_SECRET_LEN} characters (or let Nøkkel generate one)"
            )))
        }
        Some(secret) => secret.clone(),
        None => {
            let mut bytes = [0u8; 32];
            random.fill(&mut bytes);
            URL_SAFE_NO_PAD.encode(bytes)
        }
    };
    for uri in &registration.redirect_uris {
        check_uri(uri, "redirect URI")?;
    }
    for uri in &registration.post_logout_redirect_uris {
        check_uri(uri, "post-logout redirect URI")?;
    }
    let record = client_record(registration, &secret, secrets, random, now)?;
    match store.insert_client(&record).await {
        Ok(()) => Ok(RegisteredClient {
            id: record.id,
            secret,
        }),
        Err(StoreError::Conflict) => Err(OidcError::ClientExists),
        Err(other) => Err(other.into()),
    }
}

/// Seeds (or updates) the demo client `demo-rp` / `demo-secret`: any loopback redirect URI
/// on any port, the server's own `/demo/callback`, and the `pid` scope. Demo mode only;
/// the demo server may run on plain http off loopback, so the https rule is not applied.
pub async fn seed_demo_client(
    store: &Store,
    secrets: &ServerSecrets,
    random: &dyn Random,
    public_url: &str,
    now: i64,
) -> Result<(), OidcError> {
    let registration = ClientRegistration {
        id: DEMO_CLIENT_ID.to_owned(),
        name: "Demodata-tjenesten".to_owned(),
        redirect_uris: vec![format!("{public_url}/demo/callback")],
        post_logout_redirect_uris: vec![format!("{public_url}/demo")],
        scopes: vec!["pid".to_owned()],
        loopback_any_port: true,
        secret: None,
    };
    let record = client_record(&registration, DEMO_CLIENT_SECRET, secrets, random, now)?;
    store.upsert_client(&record).await?;
    Ok(())
}

/// Whether `url` is an `http` URL on a loopback host without credentials (RFC 8252 §7.3,
/// plus `localhost`, which §8.3 discourages but many tools use).
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    let host_ok = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    url.scheme() == "http" && host_ok && url.username().is_empty() && url.password().is_none()
}

fn uri_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// Whether `uri` is one of the client's redirect URIs: an exact match, or for a
/// `loopback_any_port` client any http loopback URI without a fragment.
pub(crate) fn redirect_uri_allowed(client: &ClientRecord, uri: &str) -> bool {
    uri_allowed(client, &uri_list(&client.redirect_uris), uri)
}

/// Whether `uri` is one of the client's post-logout redirect URIs (same rules).
pub(crate) fn post_logout_uri_allowed(client: &ClientRecord, uri: &str) -> bool {
    uri_allowed(client, &uri_list(&client.post_logout_redirect_uris), uri)
}

fn uri_allowed(client: &ClientRecord, registered: &[String], uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() {
        return false;
    }
    registered.iter().any(|r| r == uri) || (client.loopback_any_port && is_loopback(&url))
}

/// Whether `secret` is the client's secret (constant-time comparison of keyed hashes).
pub(crate) fn secret_matches(secrets: &ServerSecrets, client: &ClientRecord, secret: &str) -> bool {
    let hash = secrets.client_secret_hash(&client.id, secret);
    bool::from(hash.as_slice().ct_eq(client.secret_hash.as_slice()))
}

/// The pairwise subject identifier of `pid` for this client: HMAC-SHA256 under the
/// client's sector salt, base64url. Stable per client, unlinkable across clients.
pub fn pairwise_sub(client: &ClientRecord, pid: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &client.sector_salt);
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, pid.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str], loopback: bool) -> ClientRecord {
        ClientRecord {
            id: "c".into(),
            name: "C".into(),
            secret_hash: vec![],
            redirect_uris: serde_json::to_string(uris).unwrap(),
            post_logout_redirect_uris: "[]".into(),
            scopes: "openid".into(),
            loopback_any_port: loopback,
            sector_salt: vec![1; 32],
            created_at: 0,
        }
    }

    #[test]
    fn registered_uris_match_exactly() {
        let c = client(&["https://rp.example/cb"], false);
        assert!(redirect_uri_allowed(&c, "https://rp.example/cb"));
        for other in [
            "https://rp.example/cb/",
            "https://rp.example/cb?x=1",
            "https://rp.example/cb#f",
            "https://RP.example/cb2",
            "http://127.0.0.1:8080/cb",
        ] {
            assert!(!redirect_uri_allowed(&c, other), "{other}");
        }
    }

    #[test]
    fn loopback_clients_take_any_port_on_loopback_only() {
        let c = client(&[], true);
        for ok in [
            "http://127.0.0.1:49152/callback",
            "http://[::1]:8080/x",
            "http://localhost:3000/",
            "http://127.0.0.1/cb",
        ] {
            assert!(redirect_uri_allowed(&c, ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:49152/callback",
            "http://127.0.0.2:1/cb",
            "http://localhost.evil.example:1/cb",
            "http://user@127.0.0.1:1/cb",
            "http://127.0.0.1:1/cb#frag",
            "http://10.0.0.1:1/cb",
        ] {
            assert!(!redirect_uri_allowed(&c, bad), "{bad}");
        }
    }

    #[test]
    fn pairwise_subjects_differ_per_client_and_are_stable() {
        let a = client(&[], false);
        let mut b = a.clone();
        b.sector_salt = vec![2; 32];
        assert_eq!(
            pairwise_sub(&a, "14838514058"),
            pairwise_sub(&a, "14838514058")
        );
        assert_ne!(
            pairwise_sub(&a, "14838514058"),
            pairwise_sub(&b, "14838514058")
        );
        assert_ne!(
            pairwise_sub(&a, "14838514058"),
            pairwise_sub(&a, "02877213709")
        );
        assert!(!pairwise_sub(&a, "14838514058").contains("14838514058"));
    }
}
