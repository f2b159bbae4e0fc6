//! E-mail addresses for the contact register: a deliberately plain check (one `@`, a local
//! part, a domain with a dot, no spaces, at most 254 characters). Deliverability is proven
//! by using the address, not by a stricter pattern.
//!
//! The address must travel over plain SMTP: the local part must be ASCII (a non-ASCII one
//! needs the SMTPUTF8 extension, which many mail servers lack), and an internationalised
//! domain (`blåbær.no`) is kept in its ASCII form (`xn--blbr-roah.no`, IDNA/UTS 46),
//! which every mail server understands.

use thiserror::Error;

/// A plausible e-mail address, trimmed, with the domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why text is not an e-mail address.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailError {
    /// Not of the form `name@domain.tld`.
    #[error("not an e-mail address")]
    Invalid,
}

impl EmailError {
    /// A short stable code.
    pub fn code(&self) -> &'static str {
        "invalid_email"
    }
}

impl EmailAddress {
    /// Parses an address.
    pub fn parse(input: &str) -> Result<EmailAddress, EmailError> {
        let text = input.trim();
        let (local, domain) = text.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let plausible = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && text.len() <= 254
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if !plausible || !local.is_ascii() {
            return Err(EmailError::Invalid);
        }
        let domain = idna::domain_to_ascii(domain).map_err(|_| EmailError::Invalid)?;
        if domain.is_empty() || format!("{local}@{domain}").len() > 254 {
            return Err(EmailError::Invalid);
        }
        Ok(EmailAddress(format!("{local}@{domain}")))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_addresses_pass_and_domains_are_lowercased() {
        assert_eq!(
            EmailAddress::parse(" Kari.Nordmann@Example.NO ")
                .unwrap()
                .as_str(),
            "Kari.Nordmann@example.no"
        );
        for bad in [
            "",
            "kari",
            "kari@",
            "@example.no",
            "kari@example",
            "kari @example.no",
            "kari@example..no",
            "a@b@c.no",
            "bokmål@example.no",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn internationalised_domains_are_kept_in_ascii_form() {
        assert_eq!(
            EmailAddress::parse("kari@Blåbær.NO").unwrap().as_str(),
            "kari@xn--blbr-roah.no"
        );
        assert!(EmailAddress::parse("kari@bl\u{e5}b\u{e6}r..no").is_err());
    }
}
