//! Reading request cookies and writing `Set-Cookie` values with safe attributes.

use axum::http::HeaderMap;

/// The value of cookie `name` in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, `Secure` on HTTPS deployments.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: u32, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_cookie_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert("cookie", "a=1; nokkel_lang=nn; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, "nokkel_lang"), Some("nn"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
