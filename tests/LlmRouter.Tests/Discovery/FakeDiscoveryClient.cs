using System.Collections.Concurrent;
using LlmRouter.Discovery;

namespace LlmRouter.Tests.Discovery;

/// <summary>A scripted backend per api_base: what it holds and has loaded, and which calls fail.</summary>
internal sealed class FakeDiscoveryClient : IBackendDiscoveryClient
{
    private readonly ConcurrentDictionary<Uri, FakeBackend> _backends = new();

    public FakeBackend this[string apiBase] => _backends.GetOrAdd(new Uri(apiBase), _ => new FakeBackend());

    public Task<IReadOnlyList<HeldModel>> ListHeldAsync(Uri apiBase, CancellationToken cancellationToken)
    {
        var b = Backend(apiBase);
        Interlocked.Increment(ref b.TagsCalls);
        if (b.TagsFail) throw new HttpRequestException("Connection refused");
        lock (b) return Task.FromResult<IReadOnlyList<HeldModel>>(b.Held.ToArray());
    }

    public Task<IReadOnlyList<string>> ListLoadedAsync(Uri apiBase, CancellationToken cancellationToken)
    {
        var b = Backend(apiBase);
        if (b.PsFail) throw new BackendAnswerException("GET /api/ps answered 500");
        lock (b) return Task.FromResult<IReadOnlyList<string>>(b.Loaded.ToArray());
    }

    public Task<int?> GetContextLengthAsync(Uri apiBase, string model, CancellationToken cancellationToken)
    {
        var b = Backend(apiBase);
        lock (b)
        {
            b.ShowCalls.Add(model);
            if (b.ShowFail) throw new HttpRequestException("Connection reset");
            return Task.FromResult(b.ContextLengths.TryGetValue(OllamaModelName.Normalize(model), out var n) ? (int?)n : null);
        }
    }

    public Task PingAsync(Uri apiBase, CancellationToken cancellationToken)
    {
        var b = Backend(apiBase);
        Interlocked.Increment(ref b.PingCalls);
        return b.PingFail ? throw new HttpRequestException("Connection refused") : Task.CompletedTask;
    }

    public Task GenerateOneTokenAsync(Uri apiBase, string model, bool embeddingOnly, CancellationToken cancellationToken)
    {
        var b = Backend(apiBase);
        lock (b)
        {
            b.DeepCalls.Add((model, embeddingOnly));
            return b.DeepFailing.Contains(OllamaModelName.Normalize(model))
                ? throw new BackendAnswerException("POST /api/generate answered 500: {\"error\":\"out of memory\"}")
                : Task.CompletedTask;
        }
    }

    private FakeBackend Backend(Uri apiBase) => _backends.GetOrAdd(apiBase, _ => new FakeBackend());
}

internal sealed class FakeBackend
{
    public List<HeldModel> Held { get; } = [];
    public List<string> Loaded { get; } = [];
    public Dictionary<string, int> ContextLengths { get; } = new(StringComparer.Ordinal);
    public List<string> ShowCalls { get; } = [];
    public List<(string Model, bool EmbeddingOnly)> DeepCalls { get; } = [];
    public HashSet<string> DeepFailing { get; } = new(StringComparer.Ordinal);
    public volatile bool TagsFail;
    public volatile bool PsFail;
    public volatile bool ShowFail;
    public volatile bool PingFail;
    public int TagsCalls;
    public int PingCalls;

    public FakeBackend Holds(params string[] names)
    {
        lock (this)
        {
            Held.Clear();
            Held.AddRange(names.Select(n => new HeldModel(n, "v1", n.Contains("embed", StringComparison.Ordinal))));
        }
        return this;
    }

    public FakeBackend HasLoaded(params string[] names)
    {
        lock (this)
        {
            Loaded.Clear();
            Loaded.AddRange(names);
        }
        return this;
    }

    /// <summary>As a re-pull does: same name, new version.</summary>
    public void Repull(string name, string version)
    {
        lock (this)
        {
            var i = Held.FindIndex(m => OllamaModelName.AreSame(m.Name, name));
            Held[i] = Held[i] with { Version = version };
        }
    }
}
