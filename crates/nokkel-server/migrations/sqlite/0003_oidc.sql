-- OpenID Connect provider: registered clients, authorization requests waiting for a login,
-- single-use authorization codes and the access tokens issued for them.
-- Keep in step with the other backend's 0003 (schema parity test).

CREATE TABLE oauth_clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    -- HMAC-SHA256 of the secret under a server pepper (see secrets.rs).
    secret_hash               BLOB   NOT NULL,
    -- JSON arrays of exact URIs.
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL,
    -- Space-separated scopes the client may ask for.
    scopes                    TEXT    NOT NULL,
    -- RFC 8252 §7.3: any http loopback redirect URI, any port (native and demo clients).
    loopback_any_port         BOOLEAN NOT NULL,
    -- Key of the pairwise subject identifiers this client sees.
    sector_salt               BLOB   NOT NULL,
    created_at                BIGINT  NOT NULL
);

CREATE TABLE authorization_requests (
    id             TEXT    NOT NULL PRIMARY KEY,
    client_id      TEXT    NOT NULL REFERENCES oauth_clients (id),
    redirect_uri   TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    state          TEXT,
    nonce          TEXT,
    ui_locales     TEXT,
    prompt_login   BOOLEAN NOT NULL,
    login_hint     TEXT,
    acr_values     TEXT,
    code_challenge TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    -- Set exactly once, when the request ends with a code or an error.
    finished_at    BIGINT,
    outcome        TEXT CHECK (outcome IN ('code', 'error'))
);
CREATE INDEX authorization_requests_expires ON authorization_requests (expires_at);

CREATE TABLE authorization_codes (
    code_hash         BLOB  NOT NULL PRIMARY KEY,
    request_id        TEXT   NOT NULL UNIQUE REFERENCES authorization_requests (id),
    client_id         TEXT   NOT NULL REFERENCES oauth_clients (id),
    redirect_uri      TEXT   NOT NULL,
    code_challenge    TEXT   NOT NULL,
    scope             TEXT   NOT NULL,
    nonce             TEXT,
    pid               TEXT   NOT NULL,
    amr               TEXT   NOT NULL,
    auth_time         BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    used_at           BIGINT,
    -- Set when the code was presented again: every token issued for it stops working.
    tokens_revoked_at BIGINT
);

CREATE TABLE access_tokens (
    token_hash BLOB  NOT NULL PRIMARY KEY,
    code_hash  BLOB  NOT NULL REFERENCES authorization_codes (code_hash),
    client_id  TEXT   NOT NULL,
    pid        TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_code ON access_tokens (code_hash);
