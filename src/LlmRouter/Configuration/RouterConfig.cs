namespace LlmRouter.Configuration;

/// <summary>The whole router configuration, loaded once from config.yaml and validated at start-up.</summary>
public sealed record RouterConfig
{
    public required string SourcePath { get; init; }
    public required IReadOnlyList<Deployment> Deployments { get; init; }
    public required GeneralSettings General { get; init; }
    public required RouterSettings Router { get; init; }

    /// <summary>Logical model names in config order, each once.</summary>
    public IReadOnlyList<string> ModelGroups => Deployments.Select(d => d.ModelName).Distinct(StringComparer.Ordinal).ToArray();
}

/// <summary>One <c>model_list</c> entry: a logical model name served by one model on one backend.</summary>
public sealed record Deployment
{
    /// <summary>Stable across replicas: <c>model_info.id</c>, else a hash of provider, model and api_base.</summary>
    public required string Id { get; init; }
    public required string ModelName { get; init; }
    public required BackendProvider Provider { get; init; }
    /// <summary>The model name as the backend knows it, e.g. <c>llama3.1:8b</c>.</summary>
    public required string Model { get; init; }
    public required Uri ApiBase { get; init; }
    public int? Rpm { get; init; }
    public int? Tpm { get; init; }
    public double? Weight { get; init; }
    public int? MaxParallelRequests { get; init; }
    public int? MaxInputTokens { get; init; }
    /// <summary>LiteLLM's per-token prices, used for keys' <c>max_budget</c>; null = free.</summary>
    public decimal? InputCostPerToken { get; init; }
    public decimal? OutputCostPerToken { get; init; }

    /// <summary>The backend server, which saturates as a whole however many models it serves.</summary>
    public string BackendId => ApiBase.AbsoluteUri;
}

public enum BackendProvider
{
    /// <summary><c>ollama_chat/</c> and <c>ollama/</c>: Ollama's native API.</summary>
    Ollama,
}

public sealed record GeneralSettings
{
    /// <summary>Null means no authentication (allowed only on loopback unless <see cref="AllowUnauthenticated"/>).</summary>
    public string? MasterKey { get; init; }
    public bool AllowUnauthenticated { get; init; }
    public long MaxRequestBodyBytes { get; init; } = 64L * 1024 * 1024;
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Shared live state (in-flight counts, cooldowns, limits); null = process-local only.</summary>
    public string? RedisUrl { get; init; }
    /// <summary>
    /// The longest a request waits for a Redis script's answer before it falls back to this replica's own counts and
    /// leaves Redis alone for a few seconds. A Redis that is stuck rather than gone (frozen, swapping) keeps the
    /// connection open, and StackExchange.Redis 1.2.6 puts no limit on an asynchronous call.
    /// </summary>
    public TimeSpan RedisTimeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// The most <see cref="RedisTimeout"/> may be: shutdown gives the last settles and spares 5 s in all
    /// (<see cref="LiveState.LiveStateLifetime"/>), so a longer wait would be cut short there.
    /// </summary>
    public static readonly TimeSpan MaxRedisTimeout = TimeSpan.FromSeconds(5);
    /// <summary>Keys, quotas and usage; null = master key only, key endpoints answer 503.</summary>
    public string? DatabaseUrl { get; init; }
    /// <summary>How often the usage writer flushes a batch.</summary>
    public TimeSpan UsageFlushInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Append-only file for usage rows Postgres could not take yet; replayed on recovery.</summary>
    public string UsageSpillPath { get; init; } = "llmrouter-usage-spill.jsonl";
    /// <summary>Size of the crash journal next to the spill file (<c>usage_journal_mb</c>); 0 for none.</summary>
    public long UsageJournalBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>Per-request usage rows older than this are deleted (rollups kept); null keeps them all.</summary>
    public TimeSpan? UsageRetention { get; init; }
    /// <summary>Answer cap sent as num_predict when the client sets none and the key has a token quota.</summary>
    public int DefaultMaxTokens { get; init; } = 4096;
    /// <summary>Run request handling on the socket threads instead of handing every I/O completion to the thread pool.</summary>
    public bool InlineIo { get; init; } = true;
}

public sealed record RouterSettings
{
    /// <summary>Whole call (LiteLLM's <c>timeout</c>).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(600);
    /// <summary>Time to the first chunk of a streamed answer; defaults to <see cref="Timeout"/>.</summary>
    public TimeSpan? StreamTimeout { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Time to the first token of a non-streamed answer: room for a cold model load.</summary>
    public TimeSpan FirstTokenTimeout { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>Longest silence between two chunks once an answer has started.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public RoutingStrategy RoutingStrategy { get; init; } = RoutingStrategy.LeastBusy;
    /// <summary>Retries on another deployment of the same group, before the first byte only.</summary>
    public int NumRetries { get; init; } = 2;
    /// <summary>Failures within <see cref="FailureWindow"/> that put a deployment in cooldown.</summary>
    public int AllowedFails { get; init; } = 3;
    public TimeSpan FailureWindow { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan CooldownTime { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Group → groups to try in order once its retries are spent.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Fallbacks { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>Group → groups to use when the prompt exceeds the deployment's context length.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> ContextWindowFallbacks { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>How often each backend's /api/tags and /api/ps are read.</summary>
    public TimeSpan ModelPollInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Active health checks, like HAProxy's <c>inter 5s fall 3 rise 2</c>.</summary>
    public TimeSpan HealthCheckInterval { get; init; } = TimeSpan.FromSeconds(5);
    public int HealthCheckFall { get; init; } = 3;
    public int HealthCheckRise { get; init; } = 2;
    /// <summary>Also ask each deployment for one token on every check.</summary>
    public bool HealthCheckDeep { get; init; }
    /// <summary>In flight per backend server (all its models together); null = no limit.</summary>
    public int? MaxParallelRequestsPerBackend { get; init; }
    /// <summary>Requests waiting per replica when every deployment of a group is at its limit.</summary>
    public int QueueSize { get; init; } = 100;
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>An in-flight lease not renewed for this long is dropped (a crashed replica's counts vanish).</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Take the next admission ahead for requests that come back to back (see <c>SpareAdmissions</c>).</summary>
    public bool PrefetchAdmissions { get; init; } = true;
}

public enum RoutingStrategy
{
    LeastBusy,
    SimpleShuffle,
    LatencyBased,
    UsageBased,
}
