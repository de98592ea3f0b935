-- Editors: a third role between viewers and admins, for users and tokens.
--
-- Single sign-on: `oidc_subject` is who the OpenID provider says the user
-- is (its issuer and `sub`, the one claim that never changes), set at the
-- first login through it. An account made that way has no password: its
-- `password_hash` is empty, which no password matches.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'editor', 'viewer'));
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'editor', 'viewer'));
ALTER TABLE users ADD COLUMN oidc_subject TEXT UNIQUE;
