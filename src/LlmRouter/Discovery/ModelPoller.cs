using System.Collections.Frozen;

namespace LlmRouter.Discovery;

/// <summary>
/// One poll of one backend: <c>/api/tags</c> and <c>/api/ps</c> at once, then <c>/api/show</c> for configured models whose
/// context length is not known yet for the version now held. A call that fails leaves its part of the last state as it was.
/// </summary>
internal sealed class ModelPoller(IBackendDiscoveryClient client, TimeProvider time, ILogger logger)
{
    /// <summary>Each of tags, ps and show; a backend slower than this to list its models is in trouble anyway.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    public async Task PollAsync(BackendEntry backend, CancellationToken stopping)
    {
        var tagsCall = DiscoveryCall.TryAsync(ct => client.ListHeldAsync(backend.ApiBase, ct), CallTimeout, stopping);
        var psCall = DiscoveryCall.TryAsync(ct => client.ListLoadedAsync(backend.ApiBase, ct), CallTimeout, stopping);
        var (held, tagsError) = await tagsCall;
        var (loaded, psError) = await psCall;

        var before = backend.Models;
        var error = (tagsError, psError) switch
        {
            (null, null) => null,
            (not null, null) => $"/api/tags: {tagsError}",
            (null, not null) => $"/api/ps: {psError}",
            _ => $"/api/tags: {tagsError}; /api/ps: {psError}",
        };
        var now = time.GetUtcNow();
        var after = before with
        {
            LastPollAt = now,
            LastSuccessAt = error is null ? now : before.LastSuccessAt,
            LastError = error,
            ConsecutiveFailures = error is null ? 0 : before.ConsecutiveFailures + 1,
        };
        if (held is not null)
        {
            after = after with
            {
                Held = held.GroupBy(m => OllamaModelName.Normalize(m.Name), StringComparer.Ordinal).ToFrozenDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal),
                HeldNames = held.Select(m => m.Name).Distinct(StringComparer.Ordinal).ToArray(),
            };
        }
        if (loaded is not null)
        {
            after = after with
            {
                Loaded = loaded.Select(OllamaModelName.Normalize).ToFrozenSet(StringComparer.Ordinal),
                LoadedNames = loaded,
            };
        }
        // Publish at once: routing follows the model set without waiting for /api/show.
        backend.Models = after;
        LogChanges(backend, before, after);

        if (held is not null) await RefreshContextLengthsAsync(backend, stopping);
    }

    private async Task RefreshContextLengthsAsync(BackendEntry backend, CancellationToken stopping)
    {
        var models = backend.Models;
        if (models.Held is not { } held) return;
        var known = models.ContextLengths;
        var next = new Dictionary<string, ContextLengthEntry>(StringComparer.Ordinal);
        var changed = false;
        foreach (var deployment in backend.Deployments)
        {
            var key = deployment.ModelKey;
            if (deployment.Deployment.MaxInputTokens is not null || next.ContainsKey(key) || !held.TryGetValue(key, out var model)) continue;
            if (known.TryGetValue(key, out var entry) && entry.ModelVersion == model.Version)
            {
                next[key] = entry;
                continue;
            }
            var name = deployment.Deployment.Model;
            var (length, error) = await DiscoveryCall.TryAsync(ct => client.GetContextLengthAsync(backend.ApiBase, name, ct), CallTimeout, stopping);
            if (error is not null)
            {
                // Left unknown: the next poll asks again.
                DiscoveryLog.ContextLengthFailed(logger, name, backend.ApiBase, error);
                continue;
            }
            DiscoveryLog.ContextLength(logger, name, backend.ApiBase, length);
            next[key] = new ContextLengthEntry(length, model.Version);
            changed = true;
        }
        // Entries of models no longer held (or now configured) drop out here too.
        if (!changed && next.Count == known.Count) return;
        backend.Models = backend.Models with { ContextLengths = next.ToFrozenDictionary(StringComparer.Ordinal) };
    }

    private void LogChanges(BackendEntry backend, BackendModels before, BackendModels after)
    {
        if (after.LastError is { } error && before.LastError is null) DiscoveryLog.PollFailed(logger, backend.ApiBase, error);
        else if (after.LastError is null && before.LastError is not null) DiscoveryLog.PollRecovered(logger, backend.ApiBase);

        if (after.Held is { } held && (before.Held is null || !held.Keys.ToHashSet().SetEquals(before.Held.Keys)))
            DiscoveryLog.HeldChanged(logger, backend.ApiBase, string.Join(", ", after.HeldNames));
    }
}
