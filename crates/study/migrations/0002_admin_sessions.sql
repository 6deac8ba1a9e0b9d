-- rectify-web schema, version 2: admin sign-in without the token in a URL.
-- `serve` (or `rectify study admin-link`) mints a one-time login code (kind `login`, valid 15
-- minutes); redeeming it at /admin/login/{code} marks it used and creates a session (kind
-- `session`) whose token goes to the browser in an HttpOnly cookie. Only SHA-256 hashes are kept.
CREATE TABLE IF NOT EXISTS study_admin_sessions (
    token_hash TEXT PRIMARY KEY,
    study TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
