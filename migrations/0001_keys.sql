-- Virtual keys. Only SHA-256 hashes of secrets are stored; a key may hold several secrets at once
-- (after a rotation the old one stays valid until its expires_at), so secrets live in their own table.

CREATE TABLE api_keys (
    id                    uuid PRIMARY KEY,
    alias                 text,
    -- 'sk-' plus the first 4 characters of the current secret: enough to recognise a key, useless to an attacker.
    display_prefix        text        NOT NULL,
    metadata              jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- Logical model names (model_name in config.yaml); empty = every model.
    models                text[]      NOT NULL DEFAULT '{}',
    rpm_limit             bigint      CHECK (rpm_limit >= 0),
    tpm_limit             bigint      CHECK (tpm_limit >= 0),
    max_parallel_requests integer     CHECK (max_parallel_requests >= 0),
    -- Token quota per budget_duration (NULL duration = lifetime quota).
    max_tokens            bigint      CHECK (max_tokens >= 0),
    budget_duration       interval    CHECK (budget_duration > interval '0'),
    max_budget            numeric(20, 6) CHECK (max_budget >= 0),
    expires_at            timestamptz,
    blocked               boolean     NOT NULL DEFAULT false,
    is_admin              boolean     NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- Written by the usage writer in batches, never per request.
    last_used_at          timestamptz,
    -- Revoked keys are kept (not deleted) so usage rows keep pointing at something.
    revoked_at            timestamptz
);

-- Aliases name keys in LiteLLM's API (/key/delete {"key_aliases": [...]}), so a live alias must be unique.
CREATE UNIQUE INDEX api_keys_alias_live ON api_keys (alias) WHERE alias IS NOT NULL AND revoked_at IS NULL;
-- Stable order for paged lists.
CREATE INDEX api_keys_created ON api_keys (created_at, id);

CREATE TABLE api_key_secrets (
    -- Lower-case hex SHA-256 of the whole secret string ('sk-…').
    hash       text        PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
    key_id     uuid        NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- NULL = valid as long as the key is; set on rotation to the end of the grace period.
    expires_at timestamptz
);

CREATE INDEX api_key_secrets_key ON api_key_secrets (key_id);
