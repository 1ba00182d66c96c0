-- Per UTC hour and key: what rebuilding a key's rate and quota counters reads (KeyUsageReader) when it must,
-- so that reads at most one hour of a key's rows in `usage` however long its budget period is. From this version
-- on it is written in the same statement as the rows it sums (UsageSql), so the two never disagree. Requests
-- without a key are not kept here: they have no limits to rebuild.

CREATE TABLE IF NOT EXISTS usage_hourly (
    key_id   uuid        NOT NULL,
    hour     timestamptz NOT NULL,                 -- the UTC hour's start
    requests bigint      NOT NULL DEFAULT 0,
    tokens   bigint      NOT NULL DEFAULT 0,       -- prompt plus completion
    cost     numeric     NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, hour)
);

-- The usage recorded before this table existed. Rows that replicas of an older version write after this runs
-- (during a rolling upgrade) are not added here; docs/usage.md says how to count them once those replicas are gone.
INSERT INTO usage_hourly (key_id, hour, requests, tokens, cost)
SELECT key_id, date_trunc('hour', started_at, 'UTC'), count(*), sum(prompt_tokens + completion_tokens), sum(cost)
FROM usage
WHERE key_id IS NOT NULL
GROUP BY 1, 2
ON CONFLICT (key_id, hour) DO NOTHING;
