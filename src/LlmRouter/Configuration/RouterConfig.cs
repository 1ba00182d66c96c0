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
}
