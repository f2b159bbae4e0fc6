//! The OpenID Connect provider's HTTP endpoints: discovery, JWKS, the authorization
//! endpoint, the token endpoint, userinfo and end-session, plus the demo relying party in
//! demo mode. What is not HTTP lives in [`crate::services::oidc`].

use axum::routing::{get, post};
use axum::Router;

use crate::http::AppState;

mod authorize;
mod demo;
mod endpoints;
mod token;

/// The provider's routes; the demo relying party's too when `demo` is set.
pub fn routes(demo: bool) -> Router<AppState> {
    let router = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(endpoints::discovery),
        )
        .route("/oauth/jwks", get(endpoints::jwks))
        .route(
            "/oauth/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/oauth/token", post(token::token))
        .route(
            "/oauth/userinfo",
            get(endpoints::userinfo).post(endpoints::userinfo),
        )
        .route(
            "/oauth/logout",
            get(endpoints::logout_get).post(endpoints::logout_post),
        );
    if demo {
        router.merge(demo::routes())
    } else {
        router
    }
}
