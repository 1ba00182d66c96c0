namespace LlmRouter.Usage;

/// <summary>The batch statement. Parameters $1…$17 are one array per column (see <see cref="UsageStore"/>).</summary>
internal static class UsageSql
{
    /// <summary>Requests without a key are rolled up under this id (usage_daily.key_id is NOT NULL).</summary>
    public static readonly Guid NoKey = Guid.Empty;

    private const string Rows = """
        WITH batch AS (
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
                                 $8::int[], $9::int[], $10::numeric[], $11::int[], $12::text[], $13::float8[], $14::float8[],
                                 $15::bool[], $16::text[], $17::timestamptz[])
                AS r(id, client_request_id, key_id, model, requested_model, deployment_id, backend,
                     prompt_tokens, completion_tokens, cost, status, error_type, ttft_ms, duration_ms,
                     streamed, end_user, started_at)
        ), ins AS (
            INSERT INTO usage (id, client_request_id, key_id, model, requested_model, deployment_id, backend,
                               prompt_tokens, completion_tokens, cost, status, error_type, ttft_ms, duration_ms,
                               streamed, end_user, started_at)
            SELECT * FROM batch
            ON CONFLICT (id) DO NOTHING
            RETURNING key_id, model, prompt_tokens, completion_tokens, cost, status, error_type, started_at
        ), daily AS (
            -- Only rows this statement inserted: a batch written twice adds nothing the second time.
            -- ORDER BY takes the row locks in one order, so replicas updating the same rows do not deadlock.
            INSERT INTO usage_daily AS d (day, key_id, model, requests, prompt_tokens, completion_tokens, cost, errors)
            SELECT (started_at AT TIME ZONE 'UTC')::date, coalesce(key_id, '00000000-0000-0000-0000-000000000000'::uuid), model,
                   count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost),
                   count(*) FILTER (WHERE status >= 400 OR error_type IS NOT NULL)
            FROM ins
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3
            ON CONFLICT (day, key_id, model) DO UPDATE SET
                requests = d.requests + EXCLUDED.requests,
                prompt_tokens = d.prompt_tokens + EXCLUDED.prompt_tokens,
                completion_tokens = d.completion_tokens + EXCLUDED.completion_tokens,
                cost = d.cost + EXCLUDED.cost,
                errors = d.errors + EXCLUDED.errors
        ), hourly AS (
            -- What rebuilding a key's counters reads (KeyUsageReader); the same rules as usage_daily.
            INSERT INTO usage_hourly AS h (key_id, hour, requests, tokens, cost)
            SELECT key_id, date_trunc('hour', started_at, 'UTC'), count(*), sum(prompt_tokens + completion_tokens), sum(cost)
            FROM ins
            WHERE key_id IS NOT NULL
            GROUP BY 1, 2
            ORDER BY 1, 2
            ON CONFLICT (key_id, hour) DO UPDATE SET
                requests = h.requests + EXCLUDED.requests,
                tokens = h.tokens + EXCLUDED.tokens,
                cost = h.cost + EXCLUDED.cost
        )
        """;

    private const string LastUsed = """
        , last_used AS (
            UPDATE api_keys AS k SET last_used_at = u.at
            FROM (SELECT key_id, max(started_at) AS at FROM ins WHERE key_id IS NOT NULL GROUP BY key_id ORDER BY key_id) AS u
            WHERE k.id = u.key_id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
        )
        """;

    private const string Result = "SELECT count(*) FROM ins";

    public const string Insert = Rows + Result;
    public const string InsertWithLastUsed = Rows + LastUsed + Result;
}
