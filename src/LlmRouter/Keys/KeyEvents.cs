using LlmRouter.LiveState;
using StackExchange.Redis;

namespace LlmRouter.Keys;

/// <summary>
/// Spreads key changes to every replica: this replica's cache first (no dependency on Redis), then the Redis channel
/// <c>llmr:keys</c>. A message lost while Redis is away is caught by <see cref="KeyCacheSync"/>'s re-check.
/// </summary>
internal sealed partial class KeyEvents(KeyCache cache, RedisConnection redis, ILogger<KeyEvents> logger)
{
    public static readonly RedisChannel Channel = new(RedisConnection.Prefix + "keys", RedisChannel.PatternMode.Literal);

    // Lets a replica skip its own messages, which it has already applied.
    private readonly Guid _origin = Guid.NewGuid();

    /// <summary>Called after the change is committed in Postgres.</summary>
    public async Task PublishAsync(KeyChange change)
    {
        ApplyLocally(change);
        if (redis.Subscriber is not { } subscriber || !redis.IsConnected)
        {
            if (redis.IsConfigured) Log.NotPublished(logger, change.Kind.ToString(), change.KeyId, "Redis is not connected");
            return;
        }
        try
        {
            await subscriber.PublishAsync(Channel, change.Serialize(_origin));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Log.NotPublished(logger, change.Kind.ToString(), change.KeyId, e.Message);
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
        if (origin != _origin) ApplyLocally(change);
    }

    private void ApplyLocally(KeyChange change)
    {
        cache.Apply(change);
        if (change.Kind == KeyChangeKind.Minted) return;
        _ = RefreshAsync(change.KeyId);
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
        [LoggerMessage(1, LogLevel.Warning, "Key change {Kind} of {KeyId} not published ({Reason}); other replicas pick it up at their next re-check")]
        public static partial void NotPublished(ILogger logger, string kind, Guid keyId, string reason);

        [LoggerMessage(2, LogLevel.Warning, "Ignored a malformed message on llmr:keys")]
        public static partial void BadMessage(ILogger logger);

        [LoggerMessage(3, LogLevel.Warning, "Could not re-read key {KeyId} after a change ({Reason}); the periodic re-check will")]
        public static partial void RefreshFailed(ILogger logger, Guid keyId, string reason);
    }
}
