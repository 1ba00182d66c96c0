-- Usage: one row per request, written in batches by the usage writer, plus a daily rollup that the
-- admin usage API reads (it never scans `usage`). No foreign key to api_keys: usage outlives keys, and
-- a row must never be refused because its key was deleted.

CREATE TABLE IF NOT EXISTS usage (
    id                uuid PRIMARY KEY,            -- router-generated idempotency key
    client_request_id text,                        -- the client's x-request-id
    key_id            uuid,                        -- null: master key or no auth
    model             text NOT NULL,               -- the group that served (after fallbacks)
    requested_model   text NOT NULL,
    deployment_id     text,
    backend           text,
    prompt_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    cost              numeric NOT NULL DEFAULT 0,
    status            integer NOT NULL,
    error_type        text,
    ttft_ms           double precision,
    duration_ms       double precision NOT NULL,
    streamed          boolean NOT NULL DEFAULT false,
    end_user          text,
    started_at        timestamptz NOT NULL
);

-- Rebuilding a key's rate and quota windows after Redis lost its state: WHERE key_id = $1 AND started_at >= $2.
CREATE INDEX IF NOT EXISTS usage_key_id_started_at_idx ON usage (key_id, started_at);
-- Time-range scans and retention deletes; BRIN because rows arrive roughly in started_at order (tiny, cheap to keep up).
CREATE INDEX IF NOT EXISTS usage_started_at_brin ON usage USING brin (started_at);

-- Per UTC day, key and served model. key_id is the all-zero uuid for requests without a key.
CREATE TABLE IF NOT EXISTS usage_daily (
    day               date   NOT NULL,
    key_id            uuid   NOT NULL,
    model             text   NOT NULL,
    requests          bigint NOT NULL DEFAULT 0,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    cost              numeric NOT NULL DEFAULT 0,
    errors            bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, key_id, model)
);

-- One key's usage over a date range (GET /admin/keys/{id}/usage, ?key_id=); the primary key serves date ranges.
CREATE INDEX IF NOT EXISTS usage_daily_key_id_day_idx ON usage_daily (key_id, day);
