-- Sign-ins through the OpenID provider under way: between the redirect to
-- the provider and its return, what the return is checked against. Keyed
-- by the hash of the `state` sent, and taken (deleted) by the return, so
-- that a state works once; a row past `expires_at` is never taken and is
-- purged with expired sessions. Kept in the database so that any of the
-- server processes behind a load balancer may take the return.
CREATE TABLE oidc_logins (
    state_hash    TEXT   PRIMARY KEY,
    pkce_verifier TEXT   NOT NULL,
    nonce         TEXT   NOT NULL,
    return_to     TEXT   NOT NULL,
    expires_at    BIGINT NOT NULL
);
