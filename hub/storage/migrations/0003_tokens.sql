-- 0003: API bearer tokens. docs/api.md describes the token format and the roles.
--
-- Forward-only: once applied, this file never changes (its checksum is recorded).

-- One row per token `python -m hub token create` issued. The token itself is never
-- stored: `id` is its non-secret public part, `secret_sha256` the SHA-256 of its secret
-- part (tokens are 256-bit random, so a plain hash is enough; no salt or slow KDF).
CREATE TABLE api_tokens (
    id            text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
    secret_sha256 text        NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    role          text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    all_sites     boolean     NOT NULL,
    sites         text[]      NOT NULL DEFAULT '{}',
    label         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    -- A token sees every site or a non-empty list of them, never both nor neither.
    CHECK (all_sites = (cardinality(sites) = 0))
);
