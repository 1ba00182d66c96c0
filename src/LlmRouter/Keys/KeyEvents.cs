using System.Collections.Concurrent;
using LlmRouter.Keys.Storage;
using LlmRouter.LiveState;
using StackExchange.Redis;

namespace LlmRouter.Keys;

/// <summary>
/// Spreads key changes to every replica: this replica's cache first (no dependency on Redis), then the Redis channel
/// <c>llmr:keys</c>. What this replica could not publish goes out after its reconnect; what another replica missed
/// while its own connection was down is caught by its re-check (<see cref="KeyCacheSync"/>).
/// </summary>
internal sealed partial class KeyEvents(KeyCache cache, RedisConnection redis, ILogger<KeyEvents> logger)
{
    public static readonly RedisChannel Channel = new(RedisConnection.Prefix + "keys", RedisChannel.PatternMode.Literal);

    /// <summary>Changes kept for publishing after a reconnect; beyond this the other replicas' re-check has to do.</summary>
    private const int MaxUnpublished = 10_000;

    // Lets a replica skip its own messages, which it has already applied.
    private readonly Guid _origin = Guid.NewGuid();
    private readonly ConcurrentQueue<KeyChange> _unpublished = new();

    /// <summary>
    /// Called after the change is committed in Postgres, with the key's row as committed. When Redis is away the change
    /// waits in memory and goes out on reconnect (<see cref="PublishPendingAsync"/>), so other replicas need not wait for their periodic re-check.
    /// </summary>
    public async Task PublishAsync(KeyChange change, ApiKeyRow? row = null)
    {
        cache.Apply(change, row);
        if (row is null && change.Kind != KeyChangeKind.Minted) _ = RefreshAsync(change.KeyId);
        if (!redis.IsConfigured) return;
        if (!await TryPublishAsync(change))
        {
            _unpublished.Enqueue(change);
            while (_unpublished.Count > MaxUnpublished) _unpublished.TryDequeue(out _);
        }
    }

    /// <summary>Publishes what could not be published while Redis was away; called after every reconnect.</summary>
    public async Task PublishPendingAsync()
    {
        while (_unpublished.TryPeek(out var change))
        {
            if (!await TryPublishAsync(change)) return;
            _unpublished.TryDequeue(out _);
        }
    }

    private async Task<bool> TryPublishAsync(KeyChange change)
    {
        if (redis.Subscriber is not { } subscriber || !redis.IsConnected)
        {
            Log.NotPublished(logger, change.Kind.ToString(), change.KeyId, "Redis is not connected");
            return false;
        }
        try
        {
            await subscriber.PublishAsync(Channel, change.Serialize(_origin));
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Log.NotPublished(logger, change.Kind.ToString(), change.KeyId, e.Message);
            return false;
        }
    }

    /// <summary>The Redis subscription's handler.</summary>
    public void OnMessage(RedisChannel channel, RedisValue message)
    {
        if (!KeyChange.TryParse(message, out var change, out var origin))
        {
            Log.BadMessage(logger);
            return;
        }
        if (origin == _origin) return;
        cache.Apply(change);
        if (change.Kind != KeyChangeKind.Minted) _ = RefreshAsync(change.KeyId);
    }

    private async Task RefreshAsync(Guid keyId)
    {
        try
        {
            await cache.RefreshKeyAsync(keyId, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Restrictive changes already took effect in Apply; the periodic re-check completes the rest.
            // Nothing awaits this task, so every failure ends here rather than as an unobserved exception.
            Log.RefreshFailed(logger, keyId, e.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Key change {Kind} of {KeyId} not published yet ({Reason}); it goes out when Redis is back")]
        public static partial void NotPublished(ILogger logger, string kind, Guid keyId, string reason);

        [LoggerMessage(2, LogLevel.Warning, "Ignored a malformed message on llmr:keys")]
        public static partial void BadMessage(ILogger logger);

        [LoggerMessage(3, LogLevel.Warning, "Could not re-read key {KeyId} after a change ({Reason}); the periodic re-check will")]
        public static partial void RefreshFailed(ILogger logger, Guid keyId, string reason);
    }
}
